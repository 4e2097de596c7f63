// The server's side of a typed round trip: a request answered with a typed success or failure, and
// messages decoded in and encoded out. Serve it as any route (`HttpRouter.add("GET", "/rooms", rooms)`).
import { Effect } from "effect"
import { Action, Protocol, Upgrade } from "effect-websocket"
import { Rooms } from "./rooms-protocol.js"

export const rooms = Protocol.upgradeWebSocket(Rooms, {
  onInit: () => Effect.succeed(Upgrade.initial({ room: "" })),
  onMessage: (state, message, connection) =>
    Effect.gen(function*() {
      if (message._tag === "Request") { // the only request is "join"
        const { room } = message.payload
        if (room === "staff") {
          yield* Protocol.reply(connection, message, Effect.fail({ refused: "staff only" }))
          return Action.continueConnection(state)
        }
        yield* Protocol.reply(connection, message, Effect.succeed({ room }))
        return Action.continueConnection({ room })
      }
      if (message._tag === "Decoded") {
        yield* Protocol.send(connection, { type: "said", room: state.room, text: message.value.text })
      }
      return Action.continueConnection(state)
    }),
  onClose: () => Effect.void
})
