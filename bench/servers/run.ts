// Shared by the Effect echo servers: serve `echo` at / and GET /memory on 127.0.0.1, port 0, print
// the port for bench/run.mjs, and stop on SIGINT/SIGTERM.
import { type HttpApp, HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { type Acceptor } from "effect-websocket"
import { NodeServer } from "effect-websocket/node"
import { createServer } from "node:http"

// GET /memory: forces a GC (with --expose-gc) and reports process.memoryUsage()
const memory = Effect.sync(() => {
  ;(globalThis as { gc?: () => void }).gc?.()
  return HttpServerResponse.unsafeJson(process.memoryUsage())
})

export const runEchoServer = <E, R = never>(
  echo: HttpApp.Default<E, Acceptor.Acceptor | R>,
  services: Layer.Layer<R> = Layer.empty as Layer.Layer<R>
) =>
  HttpServer.serve(HttpRouter.empty.pipe(HttpRouter.get("/", echo), HttpRouter.get("/memory", memory))).pipe(
    Layer.provide(services),
    Layer.merge(
      Layer.effectDiscard(
        HttpServer.addressWith((address) =>
          Effect.sync(() => console.log(`PORT ${address._tag === "TcpAddress" ? address.port : 0}`))
        )
      )
    ),
    Layer.provide(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.launch,
    (main) => NodeRuntime.runMain(main, { disableErrorReporting: true })
  )
