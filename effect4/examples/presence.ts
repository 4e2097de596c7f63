import { Effect, Schema } from "effect"
import { Action, Broadcast, Presence, Upgrade } from "effect-websocket"
import { HttpRouter, HttpServerRequest } from "effect/http"

// Who is in a room, on every server: one key per user, one entry per connection (two tabs, two entries).
export const Members = Presence.make({
  meta: Schema.Struct({ user: Schema.String, status: Schema.Literals(["online", "away"]) }),
  key: (meta) => meta.user
})

// `/rooms/:room?user=Name`: the page gets who is there (presence_state), then every change
// (presence_diff frames, numbered after the state); "away" and "back" update the member's status.
export const members = Effect.gen(function*() {
  const { room } = yield* HttpRouter.params
  const query = yield* HttpServerRequest.ParsedSearchParams
  const user = typeof query.user === "string" && query.user !== "" ? query.user : "Anonymous"
  const topic = `room:${room}`
  return yield* Upgrade.upgradeWebSocket({
    onInit: (connection) =>
      Effect.gen(function*() {
        yield* Broadcast.subscribe(connection, topic)
        yield* Effect.orDie(Members.sendState(connection, topic))
        yield* Effect.orDie(Members.track(connection, topic, { user, status: "online" }))
        return Upgrade.initial(null)
      }),
    onMessage: (state, message, connection) =>
      Effect.gen(function*() {
        if (message._tag === "TextMessage" && (message.text === "away" || message.text === "back")) {
          const status = message.text === "away" ? "away" : "online"
          yield* Effect.orDie(Members.track(connection, topic, { user, status }))
        }
        return Action.continueConnection(state)
      }),
    // nothing to undo: the connection's end untracks it, on every server
    onClose: () => Effect.void
  })
})
