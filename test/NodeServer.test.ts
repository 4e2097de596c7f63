import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer } from "effect"
import { NodeServer, Upgrade } from "effect-websocket"
import { echo as echoHandlers } from "./support/echo.js"
import { createServer } from "node:http"
import { openWs } from "./support/client.js"
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
        const echo = Upgrade.upgradeWebSocket(echoHandlers())
        const router = HttpRouter.empty.pipe(
          HttpRouter.get("/", HttpServerResponse.text("plain")),
          HttpRouter.get("/ws", echo)
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
        const echo = Upgrade.upgradeWebSocket(echoHandlers())
        const server = yield* serve(HttpRouter.empty.pipe(HttpRouter.get("/ws", echo)))
        const raw = yield* rawConnect(server.port)
        yield* raw.write(Buffer.concat([
          Buffer.from(handshakeRequest("/ws", handshakeHeaders)),
          clientFrame(0x1, Buffer.from("sent with the handshake"))
        ]))
        const received = yield* raw.readUntil((bytes) => bytes.includes("sent with the handshake"))
        assert.strictEqual(statusOf(received), 101)
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
        const address = yield* Effect.provide(HttpServer.HttpServer, context).pipe(Effect.map((server) => server.address))
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
