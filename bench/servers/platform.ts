// @effect/platform's own upgrade and Socket.runRaw echo.
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"

const echo = Effect.gen(function*() {
  const socket = yield* HttpServerRequest.upgrade
  const write = yield* socket.writer
  yield* socket.runRaw((data) => write(data))
  return HttpServerResponse.empty()
}).pipe(Effect.scoped, Effect.orDie)

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
