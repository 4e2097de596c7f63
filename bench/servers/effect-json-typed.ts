// effect-websocket JSON echo with a typed protocol: Schema decodes every message and encodes every
// answer (Protocol.json).
import { Effect, Schema } from "effect"
import { Action, Protocol, Upgrade } from "effect-websocket"
import { runEchoServer } from "./run.js"

const Echo = Protocol.json({
  incoming: Schema.Struct({ type: Schema.Literal("say"), text: Schema.String }),
  outgoing: Schema.Struct({ type: Schema.Literal("said"), text: Schema.String })
})

const echo = Protocol.upgradeWebSocket(Echo, {
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state, message, connection) =>
    message._tag === "Decoded"
      ? Effect.as(
        Protocol.send(connection, { type: "said", text: message.value.text }),
        Action.continueConnection(state)
      )
      : Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
})

runEchoServer(echo)
