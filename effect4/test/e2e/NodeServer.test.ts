import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Context, Effect, Exit, Layer, Queue, Scope } from "effect"
import { type Acceptor, Action, type Connection, Upgrade } from "effect-websocket"
import { NodeServer } from "effect-websocket/node"
import { HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as NetAddress from "effect/net/NetAddress"
import { createServer, type ServerResponse } from "node:http"
import type * as Net from "node:net"
import { connectWs, openWs } from "../support/client.js"
import { echo } from "../support/echo.js"
import { collected } from "../support/gc.js"
import {
  clientFrame,
  handshakeHeaders,
  handshakeRequest,
  logLines,
  rawConnect,
  route,
  serve,
  serveLayer,
  statusOf
} from "../support/server.js"

const portOf = Effect.map(HttpServer.HttpServer, (server) => (server.address as { readonly port: number }).port)

/** A service a route's handlers use, released with its layer: the released flag is what onClose sees. */
class Store extends Context.Service<Store, { readonly alive: () => boolean }>()("test/Store") {}

/**
 * Serves a route whose `onClose` records whether `Store` is still alive, with `Store` and the server
 * layer composed by `compose`, in a scope of its own; returns the port, the events seen and the close.
 */
const serveWithStore = (
  compose: (
    app: Layer.Layer<never, unknown, any>,
    store: Layer.Layer<Store>,
    server: Layer.Layer<NodeServer.Services, unknown>
  ) => Layer.Layer<never, unknown, any>
) =>
  Effect.gen(function*() {
    const events: Array<string> = []
    const store = Layer.effect(
      Store,
      Effect.acquireRelease(
        Effect.sync(() => {
          let alive = true
          return { alive: () => alive, release: () => (alive = false) }
        }),
        (store) => Effect.sync(() => (events.push("store released"), store.release()))
      )
    )
    const ws = Upgrade.upgradeWebSocket({
      onInit: () => Effect.succeed(Upgrade.initial(null)),
      onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
      onClose: (_state, info) =>
        Effect.map(Store, (store) => {
          events.push(`onClose ${info.code} ${info.initiator} store alive=${store.alive()}`)
        })
    })
    let port = 0
    const server = NodeServer.layer(() => {
      const created = createServer()
      created.once("listening", () => (port = (created.address() as Net.AddressInfo).port))
      return created
    }, { port: 0, host: "127.0.0.1" })
    const scope = yield* Scope.make()
    yield* Layer.buildWithScope(compose(serveLayer(route("/ws", ws)), store, server), scope).pipe(Effect.orDie)
    return { port, events, close: Scope.close(scope, Exit.void) }
  })

/** How many times the server sent `text` (under 126 bytes) as a text frame in `received`. */
const echoesOf = (received: Buffer, text: string): number => {
  const frame = Buffer.concat([Buffer.from([0x81, text.length]), Buffer.from(text)])
  let count = 0
  for (let at = received.indexOf(frame); at >= 0; at = received.indexOf(frame, at + frame.length)) count++
  return count
}

describe("NodeServer", () => {
  describe("shutdown order", () => {
    const orders = {
      "NodeServer.layer provided last (the README's order)": (app, store, server) =>
        app.pipe(Layer.provide(store), Layer.provide(server)),
      "NodeServer.layer provided first": (app, store, server) => app.pipe(Layer.provide(server), Layer.provide(store)),
      "both in one Layer.mergeAll": (app, store, server) => app.pipe(Layer.provide(Layer.mergeAll(store, server))),
      "the server merged over the app (provideMerge)": (app, store, server) =>
        app.pipe(Layer.provide(store), Layer.provideMerge(server))
    } satisfies Record<string, Parameters<typeof serveWithStore>[0]>
    for (const [name, compose] of Object.entries(orders)) {
      it.live(`connections close with 1001 and run onClose while the route's services live: ${name}`, () =>
        Effect.gen(function*() {
          const served = yield* serveWithStore(compose)
          const clients = yield* Effect.all([1, 2, 3].map(() => openWs(`ws://127.0.0.1:${served.port}/ws`)))
          yield* served.close
          for (const client of clients) assert.strictEqual((yield* client.closed).code, 1001)
          assert.deepStrictEqual(served.events, [
            "onClose 1001 shutdown store alive=true",
            "onClose 1001 shutdown store alive=true",
            "onClose 1001 shutdown store alive=true",
            "store released"
          ])
        }))
    }
  })

  describe("layer", () => {
    it.live("answers 503 to an upgrade request while nothing serves, and closes its socket", () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
        const port = yield* Effect.provide(portOf, context)
        const raw = yield* rawConnect(port)
        yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
        const received = yield* raw.ended
        assert.strictEqual(statusOf(received), 503, received.toString("latin1"))
      }))

    it.live("a WebSocket route on the platform's NodeHttpServer.layer: 500, and one line saying to use NodeServer.layer", () =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const context = yield* serveLayer(route("/ws", Upgrade.upgradeWebSocket(echo()))).pipe(
          // what a user gets by casting the Acceptor requirement away
          Layer.provideMerge(
            NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }) as Layer.Layer<
              HttpServer.HttpServer | Acceptor.Acceptor
            >
          ),
          Layer.provide(logLines(lines)),
          Layer.build
        )
        const port = yield* Effect.provide(portOf, context as Context.Context<HttpServer.HttpServer>)
        for (let i = 0; i < 3; i++) {
          const refused = yield* connectWs(`ws://127.0.0.1:${port}/ws`)
          assert.deepStrictEqual(refused, { status: 500 })
        }
        const advice = lines.filter((line) => line.includes("NodeServer.layer"))
        assert.strictEqual(advice.length, 1, lines.join("\n"))
        assert.match(advice[0], /^ERROR .*no Acceptor/)
      }))

    it.live("two servers serving one route value count its limits apart", () =>
      Effect.gen(function*() {
        const ws = Upgrade.upgradeWebSocket(echo(), { maxConnections: 1, heartbeat: false })
        const first = yield* serve(route("/ws", ws))
        const second = yield* serve(route("/ws", ws))
        yield* openWs(`ws://127.0.0.1:${first.port}/ws`)
        const other = yield* openWs(`ws://127.0.0.1:${second.port}/ws`)
        other.ws.send("served")
        assert.strictEqual(yield* other.next, "served")
        assert.deepStrictEqual(yield* connectWs(`ws://127.0.0.1:${first.port}/ws`), { status: 503 })
      }))

    it.live("layerFrom: WebSocket routes on the app's own server and platform layer, closed with 1001 at shutdown", () =>
      Effect.gen(function*() {
        const closes = yield* Queue.unbounded<Connection.CloseInfo>()
        const routes = Layer.mergeAll(
          route("/", Effect.succeed(HttpServerResponse.text("plain"))),
          route("/ws", Upgrade.upgradeWebSocket(echo({ closes })))
        )
        const scope = yield* Scope.make()
        const context = yield* serveLayer(routes).pipe(
          Layer.provideMerge(NodeServer.layerFrom(
            () => createServer({ keepAliveTimeout: 1000 }),
            (server) => NodeHttpServer.layer(server, { port: 0, host: "127.0.0.1" })
          )),
          Layer.buildWithScope(scope)
        )
        const port = yield* Effect.provide(portOf, context as Context.Context<HttpServer.HttpServer>)
        assert.strictEqual(
          yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())),
          "plain"
        )
        const client = yield* openWs(`ws://127.0.0.1:${port}/ws`)
        client.ws.send("own server")
        assert.strictEqual(yield* client.next, "own server")
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual((yield* client.closed).code, 1001)
        assert.strictEqual((yield* Queue.take(closes)).initiator, "shutdown")
      }))

    it.live("serves HTTP and WebSocket routes like NodeHttpServer.layer", () =>
      Effect.gen(function*() {
        const routes = Layer.mergeAll(
          route("/", Effect.succeed(HttpServerResponse.text("plain"))),
          route("/ws", Upgrade.upgradeWebSocket(echo()))
        )
        const context = yield* serveLayer(routes).pipe(
          Layer.provideMerge(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
          Layer.build
        )
        const port = yield* Effect.provide(portOf, context as Context.Context<HttpServer.HttpServer>)
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

    // pins @effect/platform-node: it hands these bytes to the 'upgrade' listeners only (NodeServer keeps
    // them for the transport), and does not put them back on the socket (they would arrive twice)
    for (const when of ["at once", "after a wait"] as const) {
      it.live(`delivers a first frame sent in the same packet as the handshake, once (route upgrades ${when})`, () =>
        Effect.gen(function*() {
          const ws = Upgrade.upgradeWebSocket(echo())
          const server = yield* serve(route("/ws", when === "at once" ? ws : Effect.andThen(Effect.sleep(20), ws)))
          const raw = yield* rawConnect(server.port)
          yield* raw.write(Buffer.concat([
            Buffer.from(handshakeRequest("/ws", handshakeHeaders)),
            clientFrame(0x1, Buffer.from("sent with the handshake"))
          ]))
          const received = yield* raw.readUntil((bytes) => bytes.includes("sent with the handshake"))
          assert.strictEqual(statusOf(received), 101)
          yield* raw.write(clientFrame(0x1, Buffer.from("the next one")))
          const all = yield* raw.readUntil((bytes) => bytes.includes("the next one"))
          assert.strictEqual(echoesOf(all, "sent with the handshake"), 1)
        }))
    }
  })

  describe("detached connections", () => {
    it.live("the platform writes nothing onto an upgraded socket once the route has returned", () =>
      Effect.gen(function*() {
        const server = yield* serve(route("/ws", Upgrade.upgradeWebSocket(echo())))
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

    // the platform's listeners on the socket and the request's fields hold the fiber: released whether
    // the route upgrades while the platform's 'upgrade' listener runs or after it has returned
    for (const when of ["at once", "after a wait"] as const) {
      it.live(`an open connection does not keep the request's fiber (its context, its span): upgraded ${when}`, () =>
        Effect.gen(function*() {
          let routeFiber: WeakRef<object> | undefined
          const upgrade = Effect.withFiber<
            HttpServerResponse.HttpServerResponse,
            never,
            HttpServerRequest.HttpServerRequest | Acceptor.Acceptor
          >((fiber) => {
            routeFiber = new WeakRef(fiber)
            return Upgrade.upgradeWebSocket(echo())
          })
          const server = yield* serve(
            route("/ws", when === "at once" ? upgrade : Effect.andThen(Effect.sleep(20), upgrade))
          )
          const client = yield* openWs(`ws://127.0.0.1:${server.port}/ws`)
          client.ws.send("hello")
          assert.strictEqual(yield* client.next, "hello")
          assert.isTrue(yield* Effect.promise(() => collected(routeFiber!)), "the route's fiber is collected")
          client.ws.send("still open")
          assert.strictEqual(yield* client.next, "still open")
          assert.isFalse(server.logs.some((line) => line.startsWith("WARN")), server.logs.join("\n"))
        }))
    }

    it.live("an open connection's socket has ws's 'error' and 'close' listeners only", () =>
      Effect.gen(function*() {
        const server = yield* serve(route("/ws", Upgrade.upgradeWebSocket(echo())))
        const client = yield* openWs(`ws://127.0.0.1:${server.port}/ws`)
        client.ws.send("hello")
        assert.strictEqual(yield* client.next, "hello")
        const [socket] = server.sockets
        const once = (listener: unknown) => typeof (listener as { listener?: unknown }).listener === "function"
        assert.deepStrictEqual(
          {
            error: socket.rawListeners("error").map((listener) => (listener as { name: string }).name),
            close: socket.rawListeners("close").map((listener) =>
              once(listener) ? "once" : (listener as { name: string }).name
            )
          },
          // ws's own (lib/websocket.js): the platform's once('close') that tracks upgraded sockets is
          // released with its other listeners (compat/platform-node.ts)
          { error: ["socketOnError"], close: ["socketOnClose"] }
        )
      }))

    it.live("pins @effect/platform-node: a route that ended the request's ServerResponse gets nothing written", () =>
      Effect.gen(function*() {
        // the platform alone (no NodeServer.layer): what the Node acceptor relies on
        const raw = Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
          const response = NodeHttpServerRequest.toServerResponse(request) as ServerResponse
          response.detachSocket(socket as Net.Socket)
          response.end()
          socket.write("written by the route")
          // what ws does once the peer has gone (Node's HTTP sockets allow half-open connections)
          socket.on("end", () => socket.destroy())
          return HttpServerResponse.text("never written", { status: 200 })
        })
        const context = yield* serveLayer(route("/raw", raw)).pipe(
          Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
          Layer.build
        )
        const port = yield* Effect.provide(portOf, context as Context.Context<HttpServer.HttpServer>)
        const client = yield* rawConnect(port)
        yield* client.write(handshakeRequest("/raw", handshakeHeaders))
        yield* client.readUntil((bytes) => bytes.includes("written by the route"))
        yield* Effect.sleep("100 millis")
        const received = yield* client.readUntil(() => true)
        assert.strictEqual(received.toString("latin1"), "written by the route")
        assert.isFalse(client.socket.readableEnded, "the platform did not end the socket")
      }))
  })

  describe("layerConfig", () => {
    it.live("reads the listen options from Config", () =>
      Effect.gen(function*() {
        const layer = NodeServer.layerConfig(createServer, {
          port: Config.Int("PORT"),
          host: Config.String("HOST")
        })
        const context = yield* Layer.build(layer).pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromUnknown({ PORT: "0", HOST: "127.0.0.1" })
          )
        )
        const address = yield* Effect.provide(HttpServer.HttpServer, context).pipe(
          Effect.map((server) => server.address)
        )
        assert.strictEqual(address._tag, "InetAddressV4")
        assert.strictEqual(NetAddress.formatIp((address as NetAddress.InetAddressV4).address), "127.0.0.1")
      }))

    it.live("fails with a ConfigError when the configuration is missing", () =>
      Effect.gen(function*() {
        const result = yield* Layer.build(NodeServer.layerConfig(createServer, { port: Config.Int("PORT") })).pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown({})),
          Effect.flip
        )
        assert.strictEqual(result._tag, "ConfigError")
      }))
  })
})
