// The floor under any route-based WebSocket server on @effect/platform: a raw ws connection (echo in a
// ws callback, no loop, no timers) whose platform route fiber stays parked until the connection is
// over, as the route must. bench/memory.mjs measures it next to the others.
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect } from "effect"
import * as WS from "ws"
import { runEchoServer } from "./run.js"

const wss = new WS.WebSocketServer({ noServer: true })
const echo = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const req = NodeHttpServerRequest.toIncomingMessage(request)
  yield* Effect.async<void>((resume) => {
    wss.handleUpgrade(req, req.socket, Buffer.alloc(0), (ws) => {
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }))
      ws.on("close", () => resume(Effect.void))
    })
  })
  return HttpServerResponse.empty()
})

runEchoServer(echo)
