// effect-websocket on Effect 4 as an app writes it: bench/servers/effect-websocket-app.ts on the
// Effect 4 line. Effect.gen handlers that read two services provided by Layers (a counter and a
// formatter), production defaults. Run on Node >= 22.12 from effect4/, whose tsconfig paths resolve
// "effect-websocket" to effect4/src (as the root tsconfig does for the Effect 3 servers).
import { Context, Effect, Layer, Ref } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"
import { runEchoServer } from "./run.js"

class Counter extends Context.Service<Counter, Ref.Ref<number>>()("bench/Counter") {}
class Format extends Context.Service<Format, { readonly reply: (text: string) => string }>()("bench/Format") {}

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
