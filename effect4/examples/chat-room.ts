// Chat rooms: a room per topic. `/rooms/:room?user=Name` joins a room; everyone in it sees what each
// member says, who is typing, and who joins and leaves. The room speaks a typed JSON protocol. With
// `REDIS_URL` set, rooms are shared by every process (cluster workers, servers on other machines)
// through Redis; otherwise this process is alone.
import { Config, Context, Effect, Layer, Option, Schema } from "effect"
import { Action, Broadcast, Protocol, Upgrade } from "effect-websocket"
import * as BroadcastRedis from "effect-websocket/BroadcastRedis"
import { HttpRouter, HttpServerRequest } from "effect/http"

/** What a member sends, and what the room sends to members. */
export const ChatProtocol = Protocol.json({
  incoming: Schema.Union([
    Schema.Struct({
      type: Schema.Literal("say"),
      text: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(2000))
    }),
    Schema.Struct({ type: Schema.Literal("typing") }),
    // the answer to someone's "joined": so that newcomers learn who is already here, on every server
    Schema.Struct({ type: Schema.Literal("here") })
  ]),
  outgoing: Schema.Union([
    Schema.Struct({ type: Schema.Literal("welcome"), room: Schema.String, user: Schema.String, server: Schema.Number }),
    Schema.Struct({ type: Schema.Literal("joined"), user: Schema.String }),
    Schema.Struct({ type: Schema.Literal("present"), user: Schema.String }),
    Schema.Struct({ type: Schema.Literal("left"), user: Schema.String }),
    Schema.Struct({ type: Schema.Literal("said"), user: Schema.String, text: Schema.String }),
    Schema.Struct({ type: Schema.Literal("typing"), user: Schema.String }),
    Schema.Struct({ type: Schema.Literal("notice"), text: Schema.String })
  ])
})
type Outgoing = Protocol.Outgoing<typeof ChatProtocol>

/** Who is talking, and where: read from the request by the route, given to the handlers. */
export class Member extends Context.Service<Member, {
  readonly user: string
  readonly room: string
}>()("chat-room/Member") {}

const topicOf = (room: string) => `room:${room}`

/**
 * Publishes to the room (encoded once for every member). When the message could not leave this
 * process (Redis away), it is logged and the sender, if any, is told: the others on this server did
 * get it.
 */
const tell = (
  room: string,
  message: Outgoing,
  sender?: { readonly connection: Protocol.Connection<Outgoing>; readonly skip: boolean }
) =>
  Protocol.publish(ChatProtocol, topicOf(room), message, sender?.skip === true ? { except: sender.connection } : {})
    .pipe(
      Effect.catchTags({
        BroadcastError: (error) =>
          Effect.andThen(
            Effect.logWarning(`chat-room: ${error.message}`),
            sender === undefined
              ? Effect.void
              : Protocol.send(sender.connection, { type: "notice", text: "this reached this server only" }).pipe(
                Effect.ignore
              )
          ),
        EncodeError: (error) => Effect.die(error)
      })
    )

export const chatRoom = Protocol.upgradeWebSocket(ChatProtocol, {
  onInit: (connection) =>
    Effect.gen(function*() {
      const { room, user } = yield* Member
      yield* Broadcast.subscribe(connection, topicOf(room))
      // the process id shows which server (or cluster worker) a member landed on
      yield* Protocol.send(connection, { type: "welcome", room, user, server: process.pid })
      yield* tell(room, { type: "joined", user }, { connection, skip: true })
      yield* Effect.log(`${user} joined room ${room}`)
      return Upgrade.initial(null)
    }),
  onMessage: (state, message, connection) =>
    Effect.gen(function*() {
      if (message._tag === "Decoded") {
        const { room, user } = yield* Member
        const sender = { connection, skip: true }
        switch (message.value.type) {
          case "say":
            // to everyone, the sender included: every member sees the room in the same order
            yield* tell(room, { type: "said", user, text: message.value.text }, { connection, skip: false })
            break
          case "typing":
            yield* tell(room, { type: "typing", user }, sender)
            break
          case "here":
            yield* tell(room, { type: "present", user }, sender)
            break
        }
      }
      return Action.continueConnection(state)
    }),
  onClose: (_state, { code, reason }) =>
    Member.use(({ room, user }) =>
      Effect.andThen(
        Effect.log(`${user} left room ${room}: ${code}${reason === "" ? "" : ` ${reason}`}`),
        tell(room, { type: "left", user })
      )
    )
}, {
  // 16 KiB: a `say` of 2,000 characters fits even if every one is escaped in the JSON; anything
  // larger is closed with 1009 before it is read or decoded (the default allows 1 MiB)
  maxMessageSize: 16 * 1024
})

const RoomParams = Schema.Struct({ room: Schema.String })

/** `/rooms/:room?user=Name`: the member comes from the path and the query ("Anonymous" without one). */
export const joinRoom = Effect.gen(function*() {
  const { room } = yield* HttpRouter.schemaPathParams(RoomParams)
  const query = yield* HttpServerRequest.ParsedSearchParams
  const user = typeof query.user === "string" && query.user !== "" ? query.user : "Anonymous"
  return yield* chatRoom.pipe(Effect.provideService(Member, { room, user }))
})

/** The route, a Layer of the app's HttpRouter. */
export const ChatRoomRoutes = HttpRouter.add("GET", "/rooms/:room", joinRoom)

/** Redis when `REDIS_URL` is set (rooms shared by every process), this process alone otherwise. */
export const BroadcastLive = Layer.unwrap(
  Effect.map(Config.option(Config.String("REDIS_URL")), (url) =>
    Option.match(url, {
      onNone: () => Broadcast.layer(),
      onSome: (url) => BroadcastRedis.layer({ url })
    }))
)
