// effect-websocket echo with its production defaults (heartbeat, idle timeout, limits on).
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
