// Chat rooms: a room per topic. `/rooms/:room?user=Name` joins a room; everyone in it sees what each
// member says and who joins and leaves. With `REDIS_URL` set, rooms are shared by every process
// (cluster workers, servers on other machines) through Redis; otherwise this process is alone.
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { Config, Context, Effect, Layer, Option, Schema } from "effect"
import { Action, Broadcast, Connection, type Message, Upgrade } from "effect-websocket"
import * as BroadcastRedis from "effect-websocket/BroadcastRedis"

/** Who is talking, and where: read from the request by the route, given to the handlers. */
export class Member extends Context.Tag("chat-room/Member")<Member, {
  readonly user: string
  readonly room: string
}>() {}

const topicOf = (room: string) => `room:${room}`

/**
 * Publishes to the room. When the message could not leave this process (Redis away), it is logged
 * and the sender, if any, is told: the others on this server did get it.
 */
const tell = (
  room: string,
  text: string,
  sender?: { readonly connection: Connection.Connection; readonly skip: boolean }
) =>
  Broadcast.publish(topicOf(room), text, sender?.skip === true ? { except: sender.connection } : undefined).pipe(
    Effect.catchTag("BroadcastError", (error) =>
      Effect.zipRight(
        Effect.logWarning(`chat-room: ${error.message}`),
        sender === undefined
          ? Effect.void
          : Connection.sendText(sender.connection, "* (this reached this server only)").pipe(Effect.ignore)
      ))
  )

export const chatRoom = Upgrade.upgradeWebSocket({
  onInit: (connection) =>
    Effect.gen(function*() {
      const { room, user } = yield* Member
      yield* Broadcast.subscribe(connection, topicOf(room))
      // the process id shows which server (or cluster worker) a member landed on
      yield* Connection.sendText(connection, `* you joined ${room} as ${user} (server process ${process.pid})`)
      yield* tell(room, `* ${user} joined`, { connection, skip: true })
      return Upgrade.initial(null)
    }),
  onMessage: (state, message: Message.Message<never>, connection) =>
    Effect.gen(function*() {
      if (message._tag === "TextMessage") {
        const { room, user } = yield* Member
        // to everyone, the sender included: every member sees the room in the same order
        yield* tell(room, `${user}: ${message.text}`, { connection, skip: false })
      }
      return Action.continueConnection(state)
    }),
  onClose: () => Effect.flatMap(Member, ({ room, user }) => tell(room, `* ${user} left`))
})

const RoomParams = Schema.Struct({ room: Schema.String })

/** `/rooms/:room?user=Name`: the member comes from the path and the query ("Anonymous" without one). */
export const joinRoom = Effect.gen(function*() {
  const { room } = yield* HttpRouter.schemaPathParams(RoomParams)
  const query = yield* HttpServerRequest.ParsedSearchParams
  const user = typeof query.user === "string" && query.user !== "" ? query.user : "Anonymous"
  return yield* chatRoom.pipe(Effect.provideService(Member, { room, user }))
})

/** Redis when `REDIS_URL` is set (rooms shared by every process), this process alone otherwise. */
export const BroadcastLive = Layer.unwrapEffect(
  Effect.map(Config.option(Config.string("REDIS_URL")), (url) =>
    Option.match(url, {
      onNone: () => Broadcast.layer(),
      onSome: (url) => BroadcastRedis.layer({ url })
    }))
)
