// A JSON protocol declared once: what the client sends and what the server answers are schemas, the
// handler gets decoded values, and `Protocol.send` accepts only what the server may send.
import { Effect, Schema } from "effect"
import { Action, Protocol, Upgrade } from "effect-websocket"

export const Counter = Protocol.json({
  incoming: Schema.Union([
    Schema.Struct({
      type: Schema.Literal("add"),
      amount: Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 100 }))
    }),
    Schema.Struct({ type: Schema.Literal("reset") })
  ]),
  outgoing: Schema.Union([
    Schema.Struct({ type: Schema.Literal("total"), value: Schema.Number }),
    Schema.Struct({ type: Schema.Literal("error"), message: Schema.String })
  ])
})

export const counter = Protocol.upgradeWebSocket(Counter, {
  onInit: () => Effect.succeed(Upgrade.initial(0)),
  onMessage: (total, message, connection) =>
    Effect.gen(function*() {
      switch (message._tag) {
        case "Decoded": {
          // message.value is typed: { type: "add"; amount: number } | { type: "reset" }
          const next = message.value.type === "add" ? total + message.value.amount : 0
          yield* Protocol.send(connection, { type: "total", value: next })
          return Action.continueConnection(next)
        }
        case "Invalid":
          // with onInvalid: "deliver": answer and go on (the default closes with 1007)
          yield* Protocol.send(connection, { type: "error", message: message.error })
          return Action.continueConnection(total)
        default:
          return Action.continueConnection(total)
      }
    }),
  onClose: () => Effect.void
}, { onInvalid: "deliver" })
