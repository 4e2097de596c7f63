import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer } from "effect"
import { type Acceptor, NodeServer, Upgrade } from "effect-websocket"
import { createServer } from "node:http"
import type * as Net from "node:net"
import { openWs } from "./support/client.js"
import { echo } from "./support/echo.js"
import { collected } from "./support/gc.js"
import { handshakeHeaders } from "./support/harness.js"
import { clientFrame, handshakeRequest, rawConnect, serve, statusOf } from "./support/server.js"

const portOf = Effect.map(HttpServer.HttpServer, (server) => (server.address as { readonly port: number }).port)

describe("NodeServer", () => {
  describe("layer", () => {
    it.scopedLive("answers 503 to an upgrade request while nothing serves, and closes its socket", () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
        const port = yield* Effect.provide(portOf, context)
        const raw = yield* rawConnect(port)
        yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
        const received = yield* raw.ended
        assert.strictEqual(statusOf(received), 503, received.toString("latin1"))
      }))

    it.scopedLive("serves HTTP and WebSocket routes like NodeHttpServer.layer", () =>
      Effect.gen(function*() {
        const echoRoute = Upgrade.upgradeWebSocket(echo())
        const router = HttpRouter.empty.pipe(
          HttpRouter.get("/", HttpServerResponse.text("plain")),
          HttpRouter.get("/ws", echoRoute)
        )
        const context = yield* HttpServer.serve(router).pipe(
          Layer.provideMerge(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
          Layer.build
        )
        const port = yield* Effect.provide(portOf, context)
        const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()))
        assert.strictEqual(response, "plain")
        const client = yield* openWs(`ws://127.0.0.1:${port}/ws`)
        client.ws.send("echo")
        assert.strictEqual(yield* client.next, "echo")
        // a path without a route gets the router's 404, not a dropped socket
        const raw = yield* rawConnect(port)
        yield* raw.write(handshakeRequest("/nowhere", handshakeHeaders))
        assert.strictEqual(statusOf(yield* raw.readUntil((bytes) => bytes.includes("\r\n\r\n"))), 404)
      }))

    it.scopedLive("delivers a first frame sent in the same packet as the handshake", () =>
      Effect.gen(function*() {
        const echoRoute = Upgrade.upgradeWebSocket(echo())
        const server = yield* serve(HttpRouter.empty.pipe(HttpRouter.get("/ws", echoRoute)))
        const raw = yield* rawConnect(server.port)
        yield* raw.write(Buffer.concat([
          Buffer.from(handshakeRequest("/ws", handshakeHeaders)),
          clientFrame(0x1, Buffer.from("sent with the handshake"))
        ]))
        const received = yield* raw.readUntil((bytes) => bytes.includes("sent with the handshake"))
        assert.strictEqual(statusOf(received), 101)
      }))
  })

  describe("detached connections", () => {
    it.scopedLive("the platform writes nothing onto an upgraded socket once the route has returned", () =>
      Effect.gen(function*() {
        const server = yield* serve(
          HttpRouter.empty.pipe(HttpRouter.get("/ws", Upgrade.upgradeWebSocket(echo())))
        )
        const raw = yield* rawConnect(server.port)
        yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
        const head = yield* raw.readUntil((bytes) => bytes.includes("\r\n\r\n"))
        assert.strictEqual(statusOf(head), 101)
        // the route returned with the 101 and the platform handled its response meanwhile
        yield* Effect.sleep("100 millis")
        yield* raw.write(clientFrame(0x1, Buffer.from("ping")))
        const headEnd = head.indexOf("\r\n\r\n") + 4
        const received = yield* raw.readUntil((bytes) => bytes.length >= headEnd + 6)
        yield* Effect.sleep("50 millis")
        assert.deepStrictEqual(
          [...raw.socket.readableEnded ? ["ended"] : [], received.subarray(headEnd).toString("latin1")],
          ["\x81\x04ping"],
          "after the 101 only the echo frame arrives, and the socket stays open"
        )
      }))

    it.scopedLive("an open connection does not keep the request's fiber (its context, its span)", () =>
      Effect.gen(function*() {
        let routeFiber: WeakRef<object> | undefined
        const route = Effect.withFiberRuntime<
          HttpServerResponse.HttpServerResponse,
          never,
          HttpServerRequest.HttpServerRequest | Acceptor.Acceptor
        >((fiber) => {
          routeFiber = new WeakRef(fiber)
          return Upgrade.upgradeWebSocket(echo())
        })
        const server = yield* serve(HttpRouter.empty.pipe(HttpRouter.get("/ws", route)))
        const client = yield* openWs(`ws://127.0.0.1:${server.port}/ws`)
        client.ws.send("hello")
        assert.strictEqual(yield* client.next, "hello")
        assert.isTrue(yield* Effect.promise(() => collected(routeFiber!)), "the route's fiber is collected")
        client.ws.send("still open")
        assert.strictEqual(yield* client.next, "still open")
      }))

    it.scopedLive("pins @effect/platform-node: a route that ended the request's ServerResponse gets nothing written", () =>
      Effect.gen(function*() {
        // the platform alone (no NodeServer.layer): what the Node acceptor relies on
        const route = Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
          const response = NodeHttpServerRequest.toServerResponse(request)
          response.detachSocket(socket as Net.Socket)
          response.end()
          socket.write("written by the route")
          // what ws does once the peer has gone (Node's HTTP sockets allow half-open connections)
          socket.on("end", () => socket.destroy())
          return HttpServerResponse.text("never written", { status: 200 })
        })
        const context = yield* HttpServer.serve(HttpRouter.empty.pipe(HttpRouter.get("/raw", route))).pipe(
          Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
          Layer.build
        )
        const port = yield* Effect.provide(portOf, context)
        const raw = yield* rawConnect(port)
        yield* raw.write(handshakeRequest("/raw", handshakeHeaders))
        yield* raw.readUntil((bytes) => bytes.includes("written by the route"))
        yield* Effect.sleep("100 millis")
        const received = yield* raw.readUntil(() => true)
        assert.strictEqual(received.toString("latin1"), "written by the route")
        assert.isFalse(raw.socket.readableEnded, "the platform did not end the socket")
      }))
  })

  describe("layerConfig", () => {
    it.scopedLive("reads the listen options from Config", () =>
      Effect.gen(function*() {
        const layer = NodeServer.layerConfig(createServer, {
          port: Config.integer("PORT"),
          host: Config.string("HOST")
        })
        const context = yield* Layer.build(layer).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["PORT", "0"], ["HOST", "127.0.0.1"]])))
        )
        const address = yield* Effect.provide(HttpServer.HttpServer, context).pipe(
          Effect.map((server) => server.address)
        )
        assert.strictEqual(address._tag, "TcpAddress")
        assert.strictEqual((address as { readonly hostname: string }).hostname, "127.0.0.1")
      }))

    it.scopedLive("fails with a ConfigError when the configuration is missing", () =>
      Effect.gen(function*() {
        const result = yield* Layer.build(NodeServer.layerConfig(createServer, { port: Config.integer("PORT") })).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map())),
          Effect.flip
        )
        assert.strictEqual(result._tag, "ConfigError")
      }))
  })
})
