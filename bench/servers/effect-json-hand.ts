// effect-websocket JSON echo, parsed by hand: JSON.parse and a hand-written check in onMessage,
// JSON.stringify on the way out. What the typed route is measured against.
import { Effect } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"
import { runEchoServer } from "./run.js"

const echo = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state, message: Message.Message<never>, connection) => {
    if (message._tag !== "TextMessage") return Effect.succeed(Action.continueConnection(state))
    const parsed = JSON.parse(message.text) as { type?: unknown; text?: unknown }
    if (parsed.type !== "say" || typeof parsed.text !== "string") {
      return Effect.succeed(Action.continueConnection(state))
    }
    return Effect.as(
      Connection.sendText(connection, JSON.stringify({ type: "said", text: parsed.text })),
      Action.continueConnection(state)
    )
  },
  onClose: () => Effect.void
})

runEchoServer(echo)
