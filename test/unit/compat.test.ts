// The assumptions the library makes of its dependencies beyond their public API
// (src/internal/node/compat/): each test fails on an installed version that breaks one.
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { createServer } from "node:http"
import type * as Net from "node:net"
import * as WS from "ws"
import * as CompatPlatform from "../../src/internal/node/compat/platform-node.js"
import * as CompatWs from "../../src/internal/node/compat/ws.js"
import { handshakeHeaders, handshakeRequest, rawConnect, serve, within } from "../support/server.js"

describe("compat", () => {
  describe("ws", () => {
    it("Sender.frame builds unmasked final frames: text, binary, and the 16-bit length form", () => {
      assert.isTrue(CompatWs.framing, "the installed ws exports Sender.frame")
      assert.deepStrictEqual(CompatWs.frame(Buffer.from("hi"), false), Buffer.from([0x81, 0x02, 0x68, 0x69]))
      assert.deepStrictEqual(CompatWs.frame(Buffer.from([1, 2]), true), Buffer.from([0x82, 0x02, 1, 2]))
      const long = CompatWs.frame(Buffer.alloc(200, 7), false)
      assert.deepStrictEqual(long?.subarray(0, 4), Buffer.from([0x81, 126, 0, 200]))
      assert.strictEqual(long?.length, 204)
    })

    it.live("a WebSocket subclass receives the connection's events through emit", () =>
      Effect.gen(function*() {
        const seen: Array<string> = []
        const closed = yield* Deferred.make<void>()
        const wss = new WS.WebSocketServer({ noServer: true, WebSocket: CompatWs.Socket, autoPong: false })
        const server = createServer()
        server.on("upgrade", (request, socket, head) =>
          wss.handleUpgrade(request, socket, head, (ws) => {
            ;(ws as CompatWs.Socket).events = {
              onMessage: (data, isBinary) => seen.push(`message ${data.toString()} ${isBinary}`),
              onPing: (data) => seen.push(`ping ${data.toString()}`),
              onPong: () => seen.push("pong"),
              onError: (error) => seen.push(`error ${error.message}`),
              onClose: (code) => {
                seen.push(`close ${code}`)
                Deferred.unsafeDone(closed, Effect.void)
              }
            }
          }))
        yield* Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void)))
        const port = (server.address() as Net.AddressInfo).port
        const client = new WS.WebSocket(`ws://127.0.0.1:${port}`)
        yield* Effect.async<void>((resume) => void client.once("open", () => resume(Effect.void)))
        client.send("hello")
        client.ping("p")
        client.close(4000)
        yield* within("the close", Deferred.await(closed))
        server.close()
        wss.close()
        assert.deepStrictEqual(seen, ["message hello false", "ping p", "close 4000"])
      }))
  })

  describe("@effect/platform-node", () => {
    it.scopedLive("an upgrade request has the fields forgetRequest replaces", () =>
      Effect.gen(function*() {
        const problem = yield* Deferred.make<string | undefined>()
        const probe = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.as(
            Deferred.succeed(problem, CompatPlatform.unexpected(request)),
            HttpServerResponse.empty({ status: 400 })
          ))
        const server = yield* serve(HttpRouter.empty.pipe(HttpRouter.get("/probe", probe)))
        const raw = yield* rawConnect(server.port)
        yield* raw.write(handshakeRequest("/probe", handshakeHeaders))
        assert.strictEqual(yield* within("the probe", Deferred.await(problem)), undefined)
      }))
  })
})
