// effect-websocket on Effect 4 with its production defaults (heartbeat, idle timeout, limits on):
// bench/servers/effect-websocket.ts on the Effect 4 line, an Effect.as handler. Run on Node >= 22.12
// from effect4/, whose tsconfig paths resolve "effect-websocket" to effect4/src.
import { Effect } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"
import { runEchoServer } from "./run.js"

const echo = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state, message: Message.Message<never>, connection) => {
    switch (message._tag) {
      case "TextMessage":
        return Effect.as(Connection.sendText(connection, message.text), Action.continueConnection(state))
      case "BinaryMessage":
        return Effect.as(Connection.sendBinary(connection, message.data), Action.continueConnection(state))
      default:
        return Effect.succeed(Action.continueConnection(state))
    }
  },
  onClose: () => Effect.void
})

runEchoServer(echo)
