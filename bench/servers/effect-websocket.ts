// effect-websocket echo with its production defaults (heartbeat, idle timeout, limits on).
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"
import { createServer } from "node:http"

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

// GET /memory: forces a GC (with --expose-gc) and reports process.memoryUsage()
const memory = Effect.sync(() => {
  ;(globalThis as { gc?: () => void }).gc?.()
  return HttpServerResponse.unsafeJson(process.memoryUsage())
})

const main = HttpServer.serve(HttpRouter.empty.pipe(HttpRouter.get("/", echo), HttpRouter.get("/memory", memory))).pipe(
  Layer.merge(Layer.effectDiscard(HttpServer.addressWith((address) =>
    Effect.sync(() => console.log(`PORT ${address._tag === "TcpAddress" ? address.port : 0}`))
  ))),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

NodeRuntime.runMain(Layer.launch(main), { disableErrorReporting: true })
