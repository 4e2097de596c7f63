// effect-websocket as an app writes it: Effect.gen handlers that read two services provided by
// Layers (a counter and a formatter), production defaults. What an outside harness measures.
import { Context, Effect, Layer, Ref } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"
import { runEchoServer } from "./run.js"

class Counter extends Context.Tag("bench/Counter")<Counter, Ref.Ref<number>>() {}
class Format extends Context.Tag("bench/Format")<Format, { readonly reply: (text: string) => string }>() {}

const echo = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(0)),
  onMessage: (count, message: Message.Message<never>, connection) =>
    Effect.gen(function*() {
      const counter = yield* Counter
      const format = yield* Format
      yield* Ref.update(counter, (n) => n + 1)
      switch (message._tag) {
        case "TextMessage":
          yield* Connection.sendText(connection, format.reply(message.text))
          break
        case "BinaryMessage":
          yield* Connection.sendBinary(connection, message.data)
          break
      }
      return Action.continueConnection(count + 1)
    }),
  onClose: () => Effect.void
})

const services = Layer.mergeAll(
  Layer.effect(Counter, Ref.make(0)),
  Layer.succeed(Format, { reply: (text: string) => text })
)

runEchoServer(echo, services)
