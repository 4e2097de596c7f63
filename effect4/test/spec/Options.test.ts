import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Queue } from "effect"
import { Acceptor, Action, Connection, type Message, Upgrade } from "effect-websocket"
import { HttpMiddleware, HttpServerRequest } from "effect/http"
import { IpNetwork } from "effect/net"
import * as Zlib from "node:zlib"
import type WebSocket from "ws"
import type { CloseInfo } from "../../src/Connection.js"
import { connectWs, openWs, type WsClient } from "../support/client.js"
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

/** Echoes text; answers "info" with the connection's handshake information as JSON. */
const handlers = (closes?: Queue.Queue<CloseInfo>, seen?: Queue.Queue<string>) =>
  ({
    onInit: () => Effect.succeed(Upgrade.initial(null)),
    onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
      Effect.gen(function*() {
        if (message._tag !== "TextMessage") return Action.continueConnection(state)
        if (seen !== undefined) yield* Queue.offer(seen, message.text.slice(0, 20))
        const reply = message.text === "info"
          ? JSON.stringify({
            id: connection.id,
            remoteAddress: Option.getOrNull(connection.remoteAddress),
            protocol: Option.getOrNull(connection.protocol),
            extensions: connection.extensions,
            custom: connection.headers["x-custom"],
            url: connection.url
          })
          : message.text.length > 100
          ? `${message.text.length} chars`
          : message.text
        yield* Connection.sendText(connection, reply)
        return Action.continueConnection(state)
      }),
    onClose: (_state: null, info: CloseInfo) => closes === undefined ? Effect.void : Queue.offer(closes, info)
  }) satisfies Upgrade.Handlers<null, never, Connection.SendError>

const serveWith = (options: Upgrade.Options, closes?: Queue.Queue<CloseInfo>, seen?: Queue.Queue<string>) =>
  serve(at("/ws", Upgrade.upgradeWebSocket(handlers(closes, seen), options)))

/** A raw handshake: the status and the response headers (lower-cased names). */
const rawHandshake = (port: number, extra: Record<string, string>, path = "/ws") =>
  Effect.gen(function*() {
    const raw = yield* rawConnect(port)
    yield* raw.write(handshakeRequest(path, { ...handshakeHeaders, ...extra }))
    const received = yield* raw.readUntil((bytes) => bytes.includes("\r\n\r\n"))
    const head = received.toString("latin1").split("\r\n\r\n")[0].split("\r\n")
    const headers: Record<string, string> = {}
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":")
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
    }
    return { status: statusOf(received), headers, raw }
  })

const open = (port: number, path: string, options?: WebSocket.ClientOptions, protocols?: Array<string>) =>
  openWs(`ws://127.0.0.1:${port}${path}`, options, protocols)

const info = (client: WsClient) =>
  Effect.gen(function*() {
    client.ws.send("info")
    return JSON.parse(yield* client.next) as Record<string, unknown>
  })

describe("Upgrade options", () => {
  describe("allowedOrigins", () => {
    const connectFrom = (port: number, origin: string | undefined) =>
      connectWs(`ws://127.0.0.1:${port}/ws`, origin === undefined ? {} : { origin }).pipe(
        Effect.map((result) => ("status" in result ? result.status : 101))
      )

    it.live("by default lets pages of the same origin connect, and clients that send no Origin", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({})
        const client = yield* open(server.port, "/ws", { origin: `http://127.0.0.1:${server.port}` })
        client.ws.send("same origin")
        assert.strictEqual(yield* client.next, "same origin")
        assert.strictEqual(yield* connectFrom(server.port, undefined), 101)
        // the scheme is not compared: behind a proxy that ends TLS, the page is https and the request http
        assert.strictEqual(yield* connectFrom(server.port, `https://127.0.0.1:${server.port}`), 101)
        // default ports are left out on both sides, and case does not matter
        const viaPort80 = yield* rawHandshake(server.port, {
          Host: "App.Example.com:80",
          Origin: "http://app.example.com"
        })
        assert.strictEqual(viaPort80.status, 101)
        const viaPort443 = yield* rawHandshake(server.port, {
          Host: "app.example.com",
          Origin: "https://APP.example.com:443"
        })
        assert.strictEqual(viaPort443.status, 101)
        const ipv6 = yield* rawHandshake(server.port, { Host: "[::1]:8080", Origin: "http://[::1]:8080" })
        assert.strictEqual(ipv6.status, 101)
      }))

    it.live("by default refuses another host, another port and another scheme with 403, and keeps serving", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({})
        const port = server.port
        const refused: ReadonlyArray<[string, string]> = [
          ["another host", `http://localhost:${port}`],
          ["another site", "https://evil.example"],
          ["another port", `http://127.0.0.1:${port + 1}`],
          ["a scheme other than http and https", `chrome-extension://127.0.0.1:${port}`],
          ["a file page", "file://"],
          ["an opaque origin", "null"]
        ]
        for (const [what, origin] of refused) {
          assert.strictEqual(yield* connectFrom(port, origin), 403, what)
        }
        // a Host that names no host cannot match any origin
        const odd = yield* rawHandshake(port, { Host: "evil.example@127.0.0.1", Origin: "http://evil.example" })
        assert.strictEqual(odd.status, 403)
        const client = yield* open(port, "/ws", { origin: `http://127.0.0.1:${port}` })
        client.ws.send("still serving")
        assert.strictEqual(yield* client.next, "still serving")
      }))

    it.live("logs the first refusal of a route once, as a warning that names the origin and the option", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({})
        const origin = `http://localhost:${server.port + 1}`
        for (let i = 0; i < 3; i++) assert.strictEqual(yield* connectFrom(server.port, origin), 403)
        const warnings = server.logs.filter((line) => line.includes("refused a WebSocket handshake"))
        assert.strictEqual(warnings.length, 1, server.logs.join("\n"))
        assert.match(warnings[0], /^WARN /)
        assert.include(warnings[0], `allowedOrigins: ["${origin}"]`)
        assert.include(warnings[0], `"*"`)
      }))

    it.live("\"*\" lets every origin connect", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({ allowedOrigins: "*" })
        for (const origin of ["https://evil.example", "null", `http://127.0.0.1:${server.port}`, undefined]) {
          assert.strictEqual(yield* connectFrom(server.port, origin), 101, String(origin))
        }
      }))

    it.live("behind a proxy, HttpMiddleware.xForwardedHeaders makes the public host the one compared", () =>
      Effect.gen(function*() {
        const route = Upgrade.upgradeWebSocket(handlers(), {})
        const direct = yield* serve(at("/ws", route))
        // Effect 4's middleware applies the headers only from a trusted proxy (the test's raw socket
        // connects from 127.0.0.1), and X-Forwarded-Host only with one value per X-Forwarded-For entry
        const proxied = yield* serve(at("/ws", route), {
          middleware: HttpMiddleware.xForwardedHeaders({ trustedProxies: [IpNetwork.fromStringUnsafe("127.0.0.1/32")] })
        })
        // what a proxy forwards: its own upstream Host, and the public one in X-Forwarded-Host
        const fromProxy = (origin: string) => ({
          Host: "127.0.0.1:3000",
          "X-Forwarded-For": "203.0.113.7",
          "X-Forwarded-Host": "chat.example.com",
          Origin: origin
        })
        assert.strictEqual((yield* rawHandshake(proxied.port, fromProxy("https://chat.example.com"))).status, 101)
        assert.strictEqual((yield* rawHandshake(proxied.port, fromProxy("https://evil.example"))).status, 403)
        // without the middleware the app does not trust X-Forwarded-Host
        assert.strictEqual((yield* rawHandshake(direct.port, fromProxy("https://chat.example.com"))).status, 403)
      }))

    it.live("refuses another origin with 403 before the handshake; allows listed ones and none", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({ allowedOrigins: ["https://app.example.com", "http://localhost:3000/"] })
        assert.strictEqual((yield* rawHandshake(server.port, { Origin: "https://evil.example.com" })).status, 403)
        assert.strictEqual((yield* rawHandshake(server.port, { Origin: "https://app.example.com.evil" })).status, 403)
        assert.strictEqual((yield* rawHandshake(server.port, { Origin: "https://APP.example.com" })).status, 101)
        assert.strictEqual((yield* rawHandshake(server.port, { Origin: "http://localhost:3000" })).status, 101)
        assert.strictEqual((yield* rawHandshake(server.port, {})).status, 101)
      }))

    it.live("a predicate decides, and sees a missing Origin as undefined", () =>
      Effect.gen(function*() {
        const asked: Array<string | undefined> = []
        const server = yield* serveWith({
          allowedOrigins: (origin) => {
            asked.push(origin)
            return origin?.endsWith(".trusted.dev") ?? false
          }
        })
        assert.strictEqual((yield* rawHandshake(server.port, { Origin: "https://a.trusted.dev" })).status, 101)
        assert.strictEqual((yield* rawHandshake(server.port, {})).status, 403)
        assert.deepStrictEqual(asked, ["https://a.trusted.dev", undefined])
      }))
  })

  describe("subprotocols", () => {
    it.live("the server's preference wins among the offered ones, readable from the Connection", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({ subprotocols: ["chat.v2", "chat.v1"] })
        const handshake = yield* rawHandshake(server.port, { "Sec-WebSocket-Protocol": "chat.v1, chat.v2" })
        assert.strictEqual(handshake.status, 101)
        assert.strictEqual(handshake.headers["sec-websocket-protocol"], "chat.v2")
        const client = yield* open(server.port, "/ws", undefined, ["chat.v1", "chat.v2"])
        assert.strictEqual(client.ws.protocol, "chat.v2")
        assert.strictEqual((yield* info(client)).protocol, "chat.v2")
      }))

    it.live("when none fits, continues without one, or refuses with 400 if required", () =>
      Effect.gen(function*() {
        const lenient = yield* serveWith({ subprotocols: ["chat.v2"] })
        const without = yield* rawHandshake(lenient.port, { "Sec-WebSocket-Protocol": "other" })
        assert.strictEqual(without.status, 101)
        assert.isUndefined(without.headers["sec-websocket-protocol"])
        const strict = yield* serveWith({ subprotocols: ["chat.v2"], requireSubprotocol: true })
        assert.strictEqual((yield* rawHandshake(strict.port, { "Sec-WebSocket-Protocol": "other" })).status, 400)
        assert.strictEqual((yield* rawHandshake(strict.port, {})).status, 400)
        assert.strictEqual((yield* rawHandshake(strict.port, { "Sec-WebSocket-Protocol": "chat.v2" })).status, 101)
      }))

    it.live("a function chooses; a choice the client did not offer counts as none", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({
          subprotocols: (offered) => offered.includes("legacy") ? "not-offered" : offered.at(-1),
          requireSubprotocol: true
        })
        const last = yield* rawHandshake(server.port, { "Sec-WebSocket-Protocol": "a, b, c" })
        assert.strictEqual(last.headers["sec-websocket-protocol"], "c")
        assert.strictEqual((yield* rawHandshake(server.port, { "Sec-WebSocket-Protocol": "legacy" })).status, 400)
      }))

    it.live("without the option no subprotocol is chosen, unlike ws's first-offer default", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({})
        const handshake = yield* rawHandshake(server.port, { "Sec-WebSocket-Protocol": "a, b" })
        assert.strictEqual(handshake.status, 101)
        assert.isUndefined(handshake.headers["sec-websocket-protocol"])
      }))

    it.live("a malformed Sec-WebSocket-Protocol gets 400", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({ subprotocols: ["a"] })
        for (const header of ["a,,b", "a, a", "a b", ""]) {
          assert.strictEqual(
            (yield* rawHandshake(server.port, { "Sec-WebSocket-Protocol": header })).status,
            400,
            header
          )
        }
      }))
  })

  describe("headers", () => {
    it.live("adds static headers, or headers computed from the request, to the 101", () =>
      Effect.gen(function*() {
        const fixed = yield* serveWith({ headers: { "x-request-id": "abc-123", "set-cookie": "session=1; HttpOnly" } })
        const handshake = yield* rawHandshake(fixed.port, {})
        assert.strictEqual(handshake.status, 101)
        assert.strictEqual(handshake.headers["x-request-id"], "abc-123")
        assert.strictEqual(handshake.headers["set-cookie"], "session=1; HttpOnly")

        const computed = yield* serve(at(
          "/ws",
          Upgrade.upgradeWebSocket(handlers(), {
            headers: (request: HttpServerRequest.HttpServerRequest) => ({
              "x-echo": new URL(request.url, "http://x").searchParams.get("id") ?? "none"
            })
          })
        ))
        assert.strictEqual((yield* rawHandshake(computed.port, {}, "/ws?id=42")).headers["x-echo"], "42")
      }))

    it.live("a header function returning an invalid header is a 500, logged, and the server keeps serving", () =>
      Effect.gen(function*() {
        const server = yield* serve(at(
          "/ws",
          Upgrade.upgradeWebSocket(handlers(), {
            headers: (request: HttpServerRequest.HttpServerRequest) =>
              request.url.includes("bad") ? { "x-bad": "a\r\nb" } : {}
          })
        ))
        const handshake = yield* rawHandshake(server.port, {}, "/ws?bad")
        assert.strictEqual(handshake.status, 500)
        assert.isTrue(server.logs.some((line) => line.includes("x-bad")))
        assert.strictEqual((yield* rawHandshake(server.port, {})).status, 101)
      }))
  })

  describe("Connection information", () => {
    it.live("id, remote address, subprotocol, extensions, request headers and URL", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({ subprotocols: ["p"] })
        const first = yield* open(server.port, "/ws?room=7", { headers: { "x-custom": "yes" } }, ["p"])
        const second = yield* open(server.port, "/ws")
        const a = yield* info(first)
        const b = yield* info(second)
        assert.match(String(a.id), /^[0-9a-f-]{36}$/)
        assert.notStrictEqual(a.id, b.id)
        assert.strictEqual(a.remoteAddress, "127.0.0.1")
        assert.strictEqual(a.protocol, "p")
        assert.isNull(b.protocol)
        assert.strictEqual(a.extensions, "")
        assert.strictEqual(a.custom, "yes")
        assert.strictEqual(a.url, "/ws?room=7")
      }))
  })

  describe("compression", () => {
    it.live("is off by default, even when the client offers it", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({})
        const handshake = yield* rawHandshake(server.port, { "Sec-WebSocket-Extensions": "permessage-deflate" })
        assert.strictEqual(handshake.status, 101)
        assert.isUndefined(handshake.headers["sec-websocket-extensions"])
        const client = yield* open(server.port, "/ws", { perMessageDeflate: true })
        assert.strictEqual(client.ws.extensions, "")
      }))

    it.live("is negotiated when enabled, with its settings, and messages round-trip", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({
          compression: { threshold: 16, serverMaxWindowBits: 10, serverNoContextTakeover: true }
        })
        const client = yield* open(server.port, "/ws", { perMessageDeflate: true })
        assert.include(client.ws.extensions, "permessage-deflate")
        const negotiated = String((yield* info(client)).extensions)
        assert.include(negotiated, "permessage-deflate")
        assert.include(negotiated, "server_max_window_bits=10")
        assert.include(negotiated, "server_no_context_takeover")
        const text = "compress me ".repeat(5000)
        client.ws.send(text)
        assert.strictEqual(yield* client.next, `${text.length} chars`)
      }))

    it.live("compresses only messages at or above the threshold", () =>
      Effect.gen(function*() {
        const server = yield* serveWith({ compression: { threshold: 64 } })
        const handshake = yield* rawHandshake(server.port, { "Sec-WebSocket-Extensions": "permessage-deflate" })
        assert.include(handshake.headers["sec-websocket-extensions"], "permessage-deflate")
        const start = (yield* handshake.raw.readUntil(() => true)).length
        yield* handshake.raw.write(clientFrame(1, Buffer.from("short")))
        const first = yield* handshake.raw.readUntil((bytes) => bytes.length > start + 2)
        assert.strictEqual(first[start] & 0x40, 0, "below the threshold: RSV1 clear, sent as is")
        const long = "x".repeat(100)
        yield* handshake.raw.write(clientFrame(1, Buffer.from(long)))
        const second = yield* handshake.raw.readUntil((bytes) => bytes.length > first.length + 2)
        assert.strictEqual(second[first.length] & 0x40, 0x40, "at or above it: RSV1 set, compressed")
        assert.isBelow(second[first.length + 1] & 0x7f, long.length)
      }))

    it.live("bounds a compression bomb by maxMessageSize: 1009, and memory stays near the limit", () =>
      Effect.gen(function*() {
        const closes = yield* Queue.unbounded<CloseInfo>()
        const seen = yield* Queue.unbounded<string>()
        const server = yield* serveWith({ compression: true, maxMessageSize: 1024 * 1024 }, closes, seen)
        // 64 MiB of zeros deflates to about 64 KiB
        const bomb = Zlib.deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }).subarray(0, -4)
        assert.isBelow(bomb.length, 256 * 1024)
        const handshake = yield* rawHandshake(server.port, { "Sec-WebSocket-Extensions": "permessage-deflate" })
        assert.include(handshake.headers["sec-websocket-extensions"], "permessage-deflate")
        const before = process.memoryUsage().arrayBuffers
        let peak = before
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().arrayBuffers)
        }, 1)
        yield* handshake.raw.write(clientFrame(2, bomb, { rsv: 4 }))
        const received = yield* Effect.ensuring(handshake.raw.ended, Effect.sync(() => clearInterval(sampler)))
        assert.strictEqual(serverCloseCode(received), 1009)
        const closed = yield* Queue.take(closes)
        assert.deepInclude(closed, { code: 1009, initiator: "error" })
        assert.strictEqual(yield* Queue.size(seen), 0, "the handler never saw the message")
        assert.isBelow(peak - before, 16 * 1024 * 1024, "inflating stopped near the 1 MiB limit, far from 64 MiB")
      }))
  })

  describe("validation", () => {
    it.effect("every invalid option is a typed OptionsError naming it", () =>
      Effect.gen(function*() {
        const request = HttpServerRequest.fromWeb(new Request("http://localhost/ws", { headers: handshakeHeaders }))
        const cases: ReadonlyArray<[Upgrade.Options, string]> = [
          [{ compression: { level: 10 } }, "compression.level"],
          [{ compression: { serverMaxWindowBits: 7 } }, "compression.serverMaxWindowBits"],
          [{ compression: { threshold: -1 } }, "compression.threshold"],
          [{ compression: { concurrencyLimit: 0 } }, "compression.concurrencyLimit"],
          [{ subprotocols: [] }, "subprotocols"],
          [{ subprotocols: ["has space"] }, "subprotocols"],
          [{ requireSubprotocol: "yes" as unknown as boolean }, "requireSubprotocol"],
          [{ allowedOrigins: ["example.com"] }, "allowedOrigins"],
          [{ allowedOrigins: "same-origin" as "*" }, "allowedOrigins"],
          [{ headers: { "bad name": "x" } }, "headers"],
          [{ headers: { "x-split": "a\r\nInjected: 1" } }, "headers"],
          [{ inboxBytes: 0 }, "inboxBytes"],
          [{ inboxBytes: 1.5 }, "inboxBytes"],
          [{ rateLimit: {} }, "rateLimit"],
          [{ rateLimit: { messagesPerSecond: 0 } }, "rateLimit.messagesPerSecond"],
          [{ rateLimit: { messagesPerSecond: Number.POSITIVE_INFINITY } }, "rateLimit.messagesPerSecond"],
          [{ rateLimit: { bytesPerSecond: -1 } }, "rateLimit.bytesPerSecond"],
          [{ rateLimit: { messagesPerSecond: 10, messageBurst: 0 } }, "rateLimit.messageBurst"],
          [{ maxMessageSize: 1000, rateLimit: { bytesPerSecond: 10, byteBurst: 999 } }, "rateLimit.byteBurst"],
          [{ rateLimit: { messagesPerSecond: 1, onExceeded: "ignore" as "drop" } }, "rateLimit.onExceeded"]
        ]
        for (const [options, option] of cases) {
          const error = yield* Upgrade.upgradeWebSocket(handlers(), options).pipe(
            Effect.provideService(HttpServerRequest.HttpServerRequest, request),
            Effect.provide(Layer.effect(Acceptor.Acceptor, Acceptor.make(() => undefined))),
            Effect.flip
          )
          assert.strictEqual(error._tag, "OptionsError")
          assert.strictEqual(error.option, option)
        }
      }))
  })
})
