// The platform floor on Effect 4: what an upgrade through @effect/platform-node's HTTP server and an
// HttpRouter route costs before any library code. The route detaches the platform's request and ends
// it (as the library's Node acceptor does), raw `ws` completes the upgrade, and the connection echoes
// with ws's own callbacks: no fiber, no loop, no limits. Its handshakes x ws are the most any library
// that answers upgrades from a platform route can reach here. GET /memory reports memory use.
// Run on Node >= 22.12 from effect4/.
import { NodeHttpServer, NodeHttpServerRequest, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type * as Net from "node:net"
import { WebSocketServer } from "ws"

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
const empty = Buffer.alloc(0)
const upgraded = HttpServerResponse.empty({ status: 101 })

const upgrade = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  Effect.sync(() => {
    const incoming = NodeHttpServerRequest.toIncomingMessage(request) as IncomingMessage
    const socket = incoming.socket as Net.Socket
    const response = NodeHttpServerRequest.toServerResponse(request) as ServerResponse
    response.detachSocket(socket)
    response.end()
    wss.handleUpgrade(incoming, socket, empty, (ws) => {
      ws.on("message", (data, isBinary) => ws.send(isBinary ? data : data.toString(), { binary: isBinary }))
    })
    return upgraded
  }))

const memory = Effect.sync(() => {
  ;(globalThis as { gc?: () => void }).gc?.()
  return HttpServerResponse.jsonUnsafe(process.memoryUsage())
})

HttpRouter.serve(
  Layer.mergeAll(HttpRouter.add("GET", "/", upgrade), HttpRouter.add("GET", "/memory", memory)),
  { disableLogger: true, disableListenLog: true }
).pipe(
  Layer.merge(
    Layer.effectDiscard(
      Effect.flatMap(
        HttpServer.HttpServer,
        (server) => Effect.sync(() => console.log(`PORT ${"port" in server.address ? server.address.port : 0}`))
      )
    )
  ),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.launch,
  NodeRuntime.runMain({ disableErrorReporting: true })
)
