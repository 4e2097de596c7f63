import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Layer, Queue } from "effect"
import { Acceptor, Action, Connection, type Message, Testing, Upgrade } from "effect-websocket"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import type WebSocket from "ws"
import type { CloseInfo } from "../../src/Connection.js"
import { MemoryConnection } from "../../src/internal/memory/transport.js"
import { connectWs, openWs } from "../support/client.js"
import { sleepers } from "../support/clock.js"
import { echo } from "../support/echo.js"
import { captureLogs, type LogLine, recordLogs, warnings } from "../support/logs.js"
import { valueOf } from "../support/metrics.js"
import {
  clientFrame,
  handshakeHeaders,
  handshakeRequest,
  rawConnect,
  route as at,
  serve,
  serverCloseCode,
  statusOf
} from "../support/server.js"

const wsConnect = (port: number, path: string, options?: WebSocket.ClientOptions) =>
  connectWs(`ws://127.0.0.1:${port}${path}`, options)

const open = (port: number, path: string, options?: WebSocket.ClientOptions) =>
  openWs(`ws://127.0.0.1:${port}${path}`, options)

describe("Upgrade", () => {
  describe("upgradeWebSocket", () => {
    it.live("lets the route answer with any response instead of upgrading", () =>
      Effect.gen(function*() {
        const route = Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          if (request.headers["authorization"] !== "Bearer secret") {
            return HttpServerResponse.text("no token", { status: 401 })
          }
          return yield* Upgrade.upgradeWebSocket(echo())
        })
        const server = yield* serve(at("/ws", route))
        assert.deepStrictEqual(yield* wsConnect(server.port, "/ws"), { status: 401 })
        const client = yield* open(server.port, "/ws", { headers: { authorization: "Bearer secret" } })
        client.ws.send("let me in")
        assert.strictEqual(yield* client.next, "let me in")
      }))

    it.live("provides the handlers' dependencies with a Layer", () =>
      Effect.gen(function*() {
        class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}
        const route = Upgrade.upgradeWebSocket({
          onInit: (connection) =>
            Effect.gen(function*() {
              yield* Connection.sendText(connection, yield* Greeting)
              return Upgrade.initial(null)
            }),
          onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
          onClose: () => Effect.void
        }).pipe(Effect.provide(Layer.succeed(Greeting, "hello from a layer")))
        const server = yield* serve(at("/ws", route))
        const client = yield* open(server.port, "/ws")
        assert.strictEqual(yield* client.next, "hello from a layer")
      }))

    describe("refuses what is not a valid handshake, with a response and a closed socket", () => {
      const cases: ReadonlyArray<[string, string, Record<string, string>, number]> = [
        ["a POST", "POST", handshakeHeaders, 400],
        ["a missing Sec-WebSocket-Key", "GET", { ...handshakeHeaders, "sec-websocket-key": "" }, 400],
        [
          "a Sec-WebSocket-Key that is not 16 bytes of base64",
          "GET",
          { ...handshakeHeaders, "sec-websocket-key": "c2hvcnQ=" },
          400
        ],
        ["Sec-WebSocket-Version 12", "GET", { ...handshakeHeaders, "sec-websocket-version": "12" }, 426],
        ["a missing Sec-WebSocket-Version", "GET", { ...handshakeHeaders, "sec-websocket-version": "" }, 426],
        ["an Upgrade to another protocol", "GET", { ...handshakeHeaders, upgrade: "h2c" }, 426]
      ]
      for (const [name, method, headers, status] of cases) {
        it.live(`${name} gets ${status}`, () =>
          Effect.gen(function*() {
            const server = yield* serve(at("/ws", Upgrade.upgradeWebSocket(echo()), "*"))
            const raw = yield* rawConnect(server.port)
            const present = Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== ""))
            yield* raw.write(handshakeRequest("/ws", present, method))
            const received = yield* raw.ended
            assert.strictEqual(statusOf(received), status)
            if (status === 426 && headers["sec-websocket-version"] !== "13") {
              assert.include(received.toString("latin1").toLowerCase(), "sec-websocket-version: 13")
            }
            const client = yield* open(server.port, "/ws")
            client.ws.send("still serving")
            assert.strictEqual(yield* client.next, "still serving")
          }))
      }

      it.live("a plain HTTP GET gets 426 with Upgrade: websocket", () =>
        Effect.gen(function*() {
          const server = yield* serve(at("/ws", Upgrade.upgradeWebSocket(echo())))
          const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${server.port}/ws`))
          assert.strictEqual(response.status, 426)
          assert.strictEqual(response.headers.get("upgrade"), "websocket")
          yield* Effect.promise(() => response.text())
        }))
    })

    describe("maxMessageSize", () => {
      it.live("accepts 1 MiB by default and closes a larger message with 1009", () =>
        Effect.gen(function*() {
          const closes = yield* Queue.unbounded<CloseInfo>()
          const server = yield* serve(at("/ws", Upgrade.upgradeWebSocket(echo({ closes, binary: "length" }))))
          const client = yield* open(server.port, "/ws")
          client.ws.send(new Uint8Array(1024 * 1024))
          assert.strictEqual(yield* client.next, `${1024 * 1024} bytes`)
          client.ws.send(new Uint8Array(1024 * 1024 + 1))
          const closed = yield* client.closed
          assert.strictEqual(closed.code, 1009)
          const info = yield* Queue.take(closes)
          // what onClose reports is what went on the wire
          assert.deepStrictEqual(info, { code: 1009, reason: closed.reason, initiator: "error" })
          const other = yield* open(server.port, "/ws")
          other.ws.send("still serving")
          assert.strictEqual(yield* other.next, "still serving")
        }))

      it.live("is checked from the declared length, before the payload arrives", () =>
        Effect.gen(function*() {
          const closes = yield* Queue.unbounded<CloseInfo>()
          const route = Upgrade.upgradeWebSocket(echo({ closes, binary: "length" }), { maxMessageSize: 1000 })
          const server = yield* serve(at("/ws", route))
          const client = yield* open(server.port, "/ws")
          client.ws.send(new Uint8Array(1000))
          assert.strictEqual(yield* client.next, "1000 bytes")
          const raw = yield* rawConnect(server.port)
          yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
          yield* raw.readUntil((received) => received.includes("\r\n\r\n"))
          // a header declaring 2^40 bytes, and no payload at all
          const header = Buffer.from([0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4])
          yield* raw.write(header)
          const received = yield* raw.ended
          assert.strictEqual(serverCloseCode(received), 1009)
          assert.strictEqual((yield* Queue.take(closes)).code, 1009)
        }))
    })

    describe("protocol errors from the peer", () => {
      const violation = (name: string, frame: Buffer, code: number) =>
        it.live(`${name} closes with ${code}, onClose runs, the server keeps serving`, () =>
          Effect.gen(function*() {
            const closes = yield* Queue.unbounded<CloseInfo>()
            const server = yield* serve(at("/ws", Upgrade.upgradeWebSocket(echo({ closes }))))
            const raw = yield* rawConnect(server.port)
            yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
            yield* raw.readUntil((received) => received.includes("\r\n\r\n"))
            yield* raw.write(frame)
            const received = yield* raw.ended
            assert.strictEqual(serverCloseCode(received), code)
            const info = yield* Queue.take(closes)
            assert.strictEqual(info.code, code)
            assert.strictEqual(info.initiator, "error")
            const client = yield* open(server.port, "/ws")
            client.ws.send("still serving")
            assert.strictEqual(yield* client.next, "still serving")
          }))
      violation("an unmasked client frame", clientFrame(1, Buffer.from("hi"), { mask: false }), 1002)
      violation("invalid UTF-8 in a text frame", clientFrame(1, Buffer.from([0xc3, 0x28])), 1007)
    })

    describe("closing", () => {
      it.effect("drops a peer that does not answer the close frame after closeTimeout", () =>
        Effect.gen(function*() {
          const accepted = yield* Deferred.make<MemoryConnection>()
          const request = HttpServerRequest.fromWeb(new Request("http://localhost/ws", { headers: handshakeHeaders }))
          const route = Upgrade.upgradeWebSocket({
            onInit: () => Effect.succeed(Upgrade.initial(null)),
            onMessage: () => Effect.succeed(Action.stopConnection()),
            onClose: () => Effect.void
          }, { closeTimeout: "3 seconds", heartbeat: false, idleTimeout: false })
          const timeoutsBefore = yield* valueOf("websocket_timeouts_total", { kind: "close" })
          const ended = yield* Deferred.make<CloseInfo>()
          const acceptor = yield* Acceptor.make((_request, _handshake, connect) => {
            const connection = new MemoryConnection(connect, { answersClose: false })
            Deferred.doneUnsafe(accepted, Exit.succeed(connection))
            return connection
          }, { onEnded: (_transport, info) => Deferred.doneUnsafe(ended, Exit.succeed(info)) })
          const response = yield* route.pipe(
            Effect.provideService(HttpServerRequest.HttpServerRequest, request),
            Effect.provideService(Acceptor.Acceptor, acceptor)
          )
          assert.strictEqual(response.status, 101, "the route returns once the 101 is out")
          const connection = yield* Deferred.await(accepted)
          connection.peerSend({ _tag: "TextMessage", text: "stop please" } as Message.TextMessage)
          assert.deepStrictEqual(yield* Deferred.await(connection.peerClosed), { code: 1000, reason: "" })
          // wait until the route is waiting for the peer (its timer is registered), then move the clock
          yield* sleepers(1)
          yield* TestClock.adjust("2999 millis")
          assert.strictEqual(connection.state, "closing", "still waiting for the peer's close frame")
          assert.isFalse(yield* Deferred.isDone(ended), "the connection is not over yet")
          yield* TestClock.adjust("1 millis")
          assert.deepStrictEqual(yield* Deferred.await(ended), { code: 1000, reason: "", initiator: "server" })
          assert.strictEqual(connection.state, "closed")
          assert.strictEqual(yield* valueOf("websocket_timeouts_total", { kind: "close" }), timeoutsBefore + 1)
        }))
    })

    describe("options", () => {
      it.effect("an invalid option is a typed OptionsError when the route runs", () =>
        Effect.gen(function*() {
          const request = HttpServerRequest.fromWeb(new Request("http://localhost/ws", { headers: handshakeHeaders }))
          for (
            const [options, option] of [
              [{ maxMessageSize: -1 }, "maxMessageSize"],
              [{ maxMessageSize: 1.5 }, "maxMessageSize"],
              [{ closeTimeout: "forever and ever" }, "closeTimeout"],
              [{ inboxCapacity: 0 }, "inboxCapacity"]
            ] as const
          ) {
            const error = yield* Upgrade.upgradeWebSocket(echo(), options as Upgrade.Options).pipe(
              Effect.provideService(HttpServerRequest.HttpServerRequest, request),
              Effect.provide(Layer.effect(Acceptor.Acceptor, Acceptor.make(() => undefined))),
              Effect.flip
            )
            assert.strictEqual(error._tag, "OptionsError")
            assert.strictEqual(error.option, option)
            assert.include(error.message, option)
          }
        }))
    })
  })
  describe("make", () => {
    it.effect("an invalid option fails when the route is built, with OptionsError naming it", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Upgrade.make(echo(), { maxMessageSize: -1 }))
        assert.strictEqual(error._tag, "OptionsError")
        assert.strictEqual(error.option, "maxMessageSize")
      }))

    it.effect("valid options give a route that serves", () =>
      Effect.gen(function*() {
        const route = yield* Upgrade.make(echo(), { maxMessageSize: 1024, heartbeat: false })
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText("made")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "made" })
      }))

    it.effect("a Layer that builds a route with a bad option fails at startup", () =>
      Effect.gen(function*() {
        const Routes = Layer.effectDiscard(Upgrade.make(echo(), { compression: { level: 10 } }))
        const exit = yield* Effect.exit(Layer.build(Routes).pipe(Effect.scoped))
        assert.isTrue(Exit.isFailure(exit))
      }))
  })
  describe("refuse", () => {
    it.effect("onInit refuses with a code: its last message, then its close frame; no onClose, nothing logged", () =>
      Effect.gen(function*() {
        const lines: Array<LogLine> = []
        const closes = yield* Queue.unbounded<CloseInfo>()
        const client = yield* Testing.connect({
          onInit: () => Upgrade.refuse(1013, "try again later", { last: "{\"type\":\"unavailable\"}" }),
          onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
          onClose: (_state, info) => Queue.offer(closes, info)
        }).pipe(Effect.provide(recordLogs(lines)))
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "{\"type\":\"unavailable\"}" })
        assert.deepStrictEqual(yield* client.closed, { code: 1013, reason: "try again later" })
        assert.deepStrictEqual(yield* client.closeInfo, { code: 1013, reason: "try again later", initiator: "server" })
        assert.strictEqual(yield* Queue.size(closes), 0, "no state, so no onClose")
        assert.deepStrictEqual(warnings(lines), [])
      }))

    it.effect("onMessage refuses: the close is the handler's, onClose runs with it", () =>
      Effect.gen(function*() {
        const closes = yield* Queue.unbounded<CloseInfo>()
        const client = yield* Testing.connect({
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: () => Upgrade.refuse(4001, "session expired"),
          onClose: (_state, info) => Queue.offer(closes, info)
        })
        yield* client.sendText("anything")
        assert.deepStrictEqual(yield* client.closed, { code: 4001, reason: "session expired" })
        assert.deepStrictEqual(yield* Queue.take(closes), {
          code: 4001,
          reason: "session expired",
          initiator: "server"
        })
      }))

    it.effect("an invalid code is a CloseError: a handler failure, 1011", () =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const client = yield* Testing.connect({
          onInit: () => Upgrade.refuse(999),
          onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
          onClose: () => Effect.void
        }).pipe(Effect.provide(captureLogs(lines)))
        assert.strictEqual((yield* client.closed).code, 1011)
        assert.isTrue(lines.some((line) => line.startsWith("ERROR") && line.includes("CloseError")), lines.join("\n"))
      }))
  })
})
