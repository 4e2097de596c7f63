// Chat rooms: a room per topic. `/rooms/:room?user=Name` joins a room; everyone in it sees what each
// member says, who is typing, and who is in the room (Presence: a user with two tabs is one member).
// The room speaks a typed JSON protocol. With `REDIS_URL` set, rooms and their members are shared by
// every process (cluster workers, servers on other machines) through Redis; otherwise this process is
// alone.
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { Config, Context, Effect, Layer, Option, Schema } from "effect"
import { Action, Broadcast, Protocol, Upgrade } from "effect-websocket"
import * as BroadcastRedis from "effect-websocket/BroadcastRedis"
import { ChatProtocol, RoomMembers } from "./chat-protocol.js"

// the protocol and the members' Presence live in their own file, which the page's bundle imports too
export { ChatProtocol, RoomMembers }

type Outgoing = Protocol.Outgoing<typeof ChatProtocol>

/** Who is talking, and where: read from the request by the route, given to the handlers. */
export class Member extends Context.Tag("chat-room/Member")<Member, {
  readonly user: string
  readonly room: string
}>() {}

const topicOf = (room: string) => `room:${room}`

/**
 * Publishes to the room (encoded once for every member), `skip`ping the sender or not. When the
 * message could not leave this process (Redis away), it is logged and the sender is told: the others
 * on this server did get it.
 */
const tell = (
  room: string,
  message: Outgoing,
  sender: { readonly connection: Protocol.Connection<Outgoing>; readonly skip: boolean }
) =>
  Protocol.publish(ChatProtocol, topicOf(room), message, sender.skip ? { except: sender.connection } : {}).pipe(
    Effect.catchTags({
      BroadcastError: (error) =>
        Effect.zipRight(
          Effect.logWarning(`chat-room: ${error.message}`),
          Protocol.send(sender.connection, { type: "notice", text: "this reached this server only" }).pipe(
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
      const topic = topicOf(room)
      yield* Broadcast.subscribe(connection, topic)
      // the process id shows which server (or cluster worker) a member landed on
      yield* Protocol.send(connection, { type: "welcome", room, user, server: process.pid })
      // who is here, then (as a subscriber) every change after it, this member's own join first; the
      // member is untracked when the connection ends, however it ends, on every server
      yield* RoomMembers.sendState(connection, topic)
      yield* Effect.orDie(RoomMembers.track(connection, topic, { user }))
      yield* Effect.log(`${user} joined room ${room}`)
      return Upgrade.initial(null)
    }),
  onMessage: (state, message, connection) =>
    Effect.gen(function*() {
      if (message._tag === "Decoded") {
        const { room, user } = yield* Member
        switch (message.value.type) {
          case "say":
            // to everyone, the sender included: every member sees the room in the same order
            yield* tell(room, { type: "said", user, text: message.value.text }, { connection, skip: false })
            break
          case "typing":
            yield* tell(room, { type: "typing", user }, { connection, skip: true })
            break
          case "sync":
            yield* RoomMembers.sendState(connection, topicOf(room))
            break
        }
      }
      return Action.continueConnection(state)
    }),
  // nothing to tell: the end of the connection untracks it, and the others get the leave
  onClose: (_state, { code, reason }) =>
    Effect.flatMap(
      Member,
      ({ room, user }) => Effect.log(`${user} left room ${room}: ${code}${reason === "" ? "" : ` ${reason}`}`)
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

/** `PRESENCE_TTL_MS`: a positive number of milliseconds. */
const PresenceTtl = Config.integer("PRESENCE_TTL_MS").pipe(
  Config.validate({ message: "must be a positive number of milliseconds", validation: (ttl) => ttl > 0 })
)

/**
 * Redis when `REDIS_URL` is set (rooms and members shared by every process), this process alone
 * otherwise. `PRESENCE_TTL_MS` (Redis only, the library's 10000 by default) is how long a server's
 * members outlive its last heartbeat: those of a server that dies without closing (SIGKILL, a lost
 * machine) leave every other server's rooms within 1.5 times that.
 */
export const BroadcastLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const url = yield* Config.option(Config.string("REDIS_URL"))
    if (Option.isNone(url)) return Broadcast.layer()
    const ttl = yield* Config.option(PresenceTtl)
    const shown = Option.getOrElse(ttl, () => 10_000)
    yield* Effect.log(
      `presence: the members of a server killed without closing leave the other servers' rooms within ${
        1.5 * shown / 1000
      } s (1.5 * PRESENCE_TTL_MS=${shown})`
    )
    return BroadcastRedis.layer({ url: url.value, presence: { ttl: Option.getOrUndefined(ttl) } })
  })
)
