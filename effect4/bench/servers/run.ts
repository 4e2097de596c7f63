// Shared by the Effect 4 echo servers: bench/servers/run.ts on Effect 4. Serves `echo` at / and
// GET /memory on 127.0.0.1, port 0, prints the port for bench/run.mjs, and stops on SIGINT/SIGTERM.
// The router's request logger and listen log are off, as no logger runs in the Effect 3 servers.
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { type Acceptor } from "effect-websocket"
import { NodeServer } from "effect-websocket/node"
import { HttpRouter, HttpServer, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"

// GET /memory: forces a GC (with --expose-gc) and reports process.memoryUsage()
const memory = Effect.sync(() => {
  ;(globalThis as { gc?: () => void }).gc?.()
  return HttpServerResponse.jsonUnsafe(process.memoryUsage())
})

export const runEchoServer = <R = never>(
  echo: Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    never,
    HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | R
  >,
  services: Layer.Layer<R> = Layer.empty as Layer.Layer<R>
) =>
  HttpRouter.serve(
    Layer.mergeAll(
      // R (the handlers' services) comes from `services` below; a generic R does not narrow in the
      // router's request markers, hence the cast
      HttpRouter.add(
        "GET",
        "/",
        echo as Effect.Effect<
          HttpServerResponse.HttpServerResponse,
          never,
          HttpServerRequest.HttpServerRequest | Acceptor.Acceptor
        >
      ),
      HttpRouter.add("GET", "/memory", memory)
    ),
    { disableLogger: true, disableListenLog: true }
  ).pipe(
    Layer.provide(services),
    Layer.merge(
      Layer.effectDiscard(
        Effect.flatMap(HttpServer.HttpServer, (server) =>
          Effect.sync(() => console.log(`PORT ${"port" in server.address ? server.address.port : 0}`)))
      )
    ),
    Layer.provide(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.launch,
    NodeRuntime.runMain({ disableErrorReporting: true })
  )
