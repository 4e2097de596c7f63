// Liveness, backpressure and limits once on the real Node transport, with short real timeouts.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Queue, Ref } from "effect"
import { type Acceptor, Action, Connection, type Message, Upgrade } from "effect-websocket"
import { NodeServer } from "effect-websocket/node"
import type { HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"
import type * as Net from "node:net"
import type WebSocket from "ws"
import type { CloseInfo } from "../../src/Connection.js"
import { openWs } from "../support/client.js"
import { echo } from "../support/echo.js"
import {
  handshakeHeaders,
  handshakeRequest,
  rawConnect,
  route as at,
  serve,
  serveLayer,
  serverCloseCode,
  statusOf,
  within
} from "../support/server.js"

const serveRoute = <E>(
  route: Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E,
    HttpServerRequest.HttpServerRequest | Acceptor.Acceptor
  >
) => serve(at("/ws", route))

const open = (port: number, options?: WebSocket.ClientOptions) => openWs(`ws://127.0.0.1:${port}/ws`, options)

describe("liveness on Node", () => {
  it.live("the heartbeat detects a half-open peer: no pongs, no TCP close", () =>
    Effect.gen(function*() {
      const closes = yield* Queue.unbounded<CloseInfo>()
      const server = yield* serveRoute(Upgrade.upgradeWebSocket(echo({ closes }), {
        heartbeat: { interval: "100 millis", timeout: "100 millis" },
        idleTimeout: false,
        closeTimeout: "200 millis"
      }))
      const raw = yield* rawConnect(server.port)
      yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
      // the raw peer reads but never answers pings nor the close frame
      const received = yield* raw.ended
      assert.strictEqual(serverCloseCode(received), 1001)
      assert.deepStrictEqual(yield* within("onClose", Queue.take(closes)), {
        code: 1001,
        reason: "heartbeat timeout",
        initiator: "timeout"
      })
    }))

  it.live("a ws client that answers pings stays; an idle one is closed after idleTimeout", () =>
    Effect.gen(function*() {
      const closes = yield* Queue.unbounded<CloseInfo>()
      const server = yield* serveRoute(Upgrade.upgradeWebSocket(echo({ closes }), {
        heartbeat: { interval: "50 millis", timeout: "200 millis" },
        idleTimeout: "400 millis"
      }))
      const client = yield* open(server.port)
      const pings = yield* Ref.make(0)
      client.ws.on("ping", () => Effect.runSync(Ref.update(pings, (n) => n + 1)))
      assert.deepStrictEqual(yield* client.closed, { code: 1001, reason: "idle timeout" })
      assert.isAtLeast(yield* Ref.get(pings), 2, "pings were answered meanwhile, and do not count as activity")
      assert.strictEqual((yield* Queue.take(closes)).initiator, "timeout")
    }))
})

describe("backpressure on Node", () => {
  const paused = (policy: "suspend" | "fail" | "close", expected: string) =>
    it.live(`a paused client, policy ${policy}: ${expected}, and the queue stays within one message of the mark`, () =>
      Effect.gen(function*() {
        const outcome = yield* Deferred.make<{ sent: number; maxBuffered: number; error: string }>()
        const closes = yield* Queue.unbounded<CloseInfo>()
        const message = "y".repeat(64 * 1024)
        const highWaterMark = 256 * 1024
        const server = yield* serveRoute(Upgrade.upgradeWebSocket({
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: (state: null, _message: Message.Message<never>, connection: Connection.Connection) =>
            Effect.gen(function*() {
              let maxBuffered = 0
              for (let sent = 0; sent < 2000; sent++) {
                const result = yield* Effect.result(Connection.sendText(connection, message))
                maxBuffered = Math.max(maxBuffered, yield* Connection.bufferedAmount(connection))
                if (result._tag === "Failure") {
                  yield* Deferred.succeed(outcome, { sent, maxBuffered, error: result.failure.reason })
                  break
                }
              }
              return Action.continueConnection(state)
            }),
          onClose: (_: null, info: CloseInfo) => Queue.offer(closes, info)
        }, { outbound: { highWaterMark, policy, sendTimeout: "300 millis" }, closeTimeout: "300 millis" }))
        const client = yield* open(server.port)
        ;(client.ws as unknown as { _socket: Net.Socket })._socket.pause()
        client.ws.send("go")
        const result = yield* within("backpressure", Deferred.await(outcome), 15)
        assert.strictEqual(result.error, expected)
        assert.isAtMost(result.maxBuffered, highWaterMark + message.length)
        assert.isAtLeast(result.maxBuffered, highWaterMark)
        if (policy === "close") {
          assert.deepStrictEqual(yield* within("onClose", Queue.take(closes)), {
            code: 1008,
            reason: "outbound buffer full",
            initiator: "error"
          })
        }
      }))
  it.live("policy suspend: sends wait while the client does not read, and all go out, in order, once it reads", () =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<ReadonlyArray<string>>()
      const count = 300 // 19 MiB: more than the kernel buffers on both sides hold
      const server = yield* serveRoute(Upgrade.upgradeWebSocket({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, _message: Message.Message<never>, connection: Connection.Connection) =>
          Effect.forEach(
            Array.from({ length: count }, (_, i) => i),
            (i) => Effect.result(Connection.sendText(connection, `${i} ${"z".repeat(64 * 1024)}`))
          ).pipe(
            Effect.flatMap((results) => Deferred.succeed(done, results.map((result) => result._tag))),
            Effect.as(Action.continueConnection(state))
          ),
        onClose: () => Effect.void
      }, { outbound: { highWaterMark: 256 * 1024, policy: "suspend", sendTimeout: "10 seconds" } }))
      const client = yield* open(server.port)
      const socket = (client.ws as unknown as { _socket: Net.Socket })._socket
      socket.pause()
      client.ws.send("go")
      yield* Effect.sleep("300 millis")
      assert.isFalse(yield* Deferred.isDone(done), "the handler waits while the client reads nothing")
      socket.resume()
      const received: Array<string> = []
      for (let i = 0; i < count; i++) received.push((yield* client.next).split(" ")[0])
      assert.deepStrictEqual(received, Array.from({ length: count }, (_, i) => String(i)))
      assert.deepStrictEqual(yield* within("the handler", Deferred.await(done), 5), Array(count).fill("Success"))
    }))

  paused("fail", "Backpressure")
  paused("suspend", "Timeout")
  paused("close", "Backpressure")

  it.live("a full inbox stops reading the socket; nothing is lost and order is kept", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make(0)
      const done = yield* Deferred.make<ReadonlyArray<number>>()
      const received: Array<number> = []
      const server = yield* serveRoute(Upgrade.upgradeWebSocket({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, message: Message.Message<never>) =>
          Effect.gen(function*() {
            if (message._tag !== "TextMessage") return Action.continueConnection(state)
            // a slow handler: a real hop per message
            yield* Effect.callback<void>((resume) => void setImmediate(() => resume(Effect.void)))
            received.push(Number(message.text))
            if ((yield* Ref.updateAndGet(seen, (n) => n + 1)) === 2000) yield* Deferred.succeed(done, received)
            return Action.continueConnection(state)
          }),
        onClose: () => Effect.void
      }, { inboxCapacity: 8 }))
      const client = yield* open(server.port)
      for (let i = 0; i < 2000; i++) client.ws.send(String(i))
      const all = yield* within("all messages", Deferred.await(done), 15)
      assert.deepStrictEqual(all, Array.from({ length: 2000 }, (_, i) => i))
    }))
})

describe("memory bounded in bytes on Node", () => {
  it.live("a client that floods 64 KiB messages while the handler waits: the server stops reading at the stated bound", () =>
    Effect.gen(function*() {
      const size = 64 * 1024
      const sockets: Array<Net.Socket> = []
      let port = 0
      const release = yield* Deferred.make<void>()
      const seen = yield* Queue.unbounded<number>()
      const route = Upgrade.upgradeWebSocket({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        // a handler that waits (a database call, a send to a slow peer)
        onMessage: (state: null, message: Message.Message<never>) =>
          Effect.gen(function*() {
            yield* Deferred.await(release)
            if (message._tag === "BinaryMessage") yield* Queue.offer(seen, message.data[0])
            return Action.continueConnection(state)
          }),
        onClose: () => Effect.void
      }, { maxMessageSize: size, heartbeat: false })
      yield* serveLayer(at("/ws", route)).pipe(
        Layer.provide(NodeServer.layer(() => {
          const server = createServer()
          server.on("upgrade", (_request, socket: Net.Socket) => sockets.push(socket))
          server.once("listening", () => (port = (server.address() as Net.AddressInfo).port))
          return server
        }, { port: 0, host: "127.0.0.1" })),
        Layer.build
      )
      const client = yield* open(port)
      const count = 200
      for (let i = 0; i < count; i++) client.ws.send(Buffer.alloc(size, i))
      const [socket] = sockets
      // the handler never finishes its batch, so once the server stops reading it does not read again
      yield* within(
        "the server stops reading",
        Effect.repeat(Effect.sync(() => socket.isPaused()), { until: (p) => p })
      )
      // the README's worst case: inboxBytes (maxMessageSize) + the message crossing it + one being
      // assembled + one socket read, plus the handshake and frame headers
      const bound = 3 * size + 64 * 1024 + 4096
      assert.isAtMost(socket.bytesRead, bound, `read ${socket.bytesRead} of ${count * size} bytes sent`)
      assert.isAtLeast(socket.bytesRead, size)
      // nothing was lost: once the handler goes on, every message arrives, in order
      yield* Deferred.succeed(release, undefined)
      for (let i = 0; i < count; i++) assert.strictEqual(yield* within("a message", Queue.take(seen)), i % 256)
    }))
})

describe("connection limits on Node", () => {
  it.live("503 with Retry-After beyond maxConnections, 429 beyond maxConnectionsPerAddress", () =>
    Effect.gen(function*() {
      const closes = yield* Queue.unbounded<CloseInfo>()
      const total = yield* serveRoute(
        Upgrade.upgradeWebSocket(echo({ closes }), { maxConnections: 2, retryAfter: "3 seconds" })
      )
      yield* open(total.port)
      yield* open(total.port)
      const raw = yield* rawConnect(total.port)
      yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
      const refused = yield* raw.ended
      assert.strictEqual(statusOf(refused), 503)
      assert.include(refused.toString("latin1").toLowerCase(), "retry-after: 3")

      const perAddress = yield* serveRoute(Upgrade.upgradeWebSocket(echo({ closes }), { maxConnectionsPerAddress: 1 }))
      yield* open(perAddress.port)
      const second = yield* rawConnect(perAddress.port)
      yield* second.write(handshakeRequest("/ws", handshakeHeaders))
      assert.strictEqual(statusOf(yield* second.ended), 429)
      const other = yield* open(perAddress.port, { localAddress: "127.0.0.2" })
      other.ws.send("from another address")
      assert.strictEqual(yield* other.next, "from another address")
    }))
})
