/**
 * RFC 6455 wire conformance, driven by a raw TCP client that writes frames a well-behaved client
 * never would. Every violation must close with the exact code, run `onClose` as an "error", and leave
 * the server serving other clients.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue } from "effect"
import { type Connection, Upgrade } from "effect-websocket"
import { openWs } from "../support/client.js"
import { echo } from "../support/echo.js"
import {
  clientFrame,
  handshakeHeaders,
  handshakeRequest,
  rawConnect,
  type RawSocket,
  route,
  serve,
  serverCloseCode,
  statusOf,
  within
} from "../support/server.js"

/** An echo server on port 0, and the queue its `onClose` reports into. */
const echoServer = Effect.gen(function*() {
  const closes = yield* Queue.unbounded<Connection.CloseInfo>()
  const server = yield* serve(route("/ws", Upgrade.upgradeWebSocket(echo({ closes }))))
  return { port: server.port, sockets: server.sockets, nextClose: within("onClose", Queue.take(closes)) }
})

/** A well-behaved `ws` client gets an echo: the server is still serving. */
const assertStillServing = (port: number) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* openWs(`ws://127.0.0.1:${port}/ws`)
    client.ws.send("still serving")
    assert.strictEqual(yield* client.next, "still serving")
  }))

/** A raw socket past a valid handshake: the whole 101 response has been read. */
const handshake = (port: number) =>
  Effect.gen(function*() {
    const raw = yield* rawConnect(port)
    yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
    const response = yield* raw.readUntil((received) => received.includes("\r\n\r\n"))
    assert.strictEqual(statusOf(response), 101)
    return raw
  })

interface ServerFrame {
  readonly fin: boolean
  readonly masked: boolean
  readonly opcode: number
  readonly payload: Buffer
}

/** The complete frames the server sent after the 101 (a masked one would be read as if unmasked). */
const serverFrames = (received: Buffer): Array<ServerFrame> => {
  const frames: Array<ServerFrame> = []
  let offset = received.indexOf("\r\n\r\n") + 4
  while (offset + 2 <= received.length) {
    let length = received[offset + 1] & 0x7f
    let start = offset + 2
    if (length === 126) {
      if (offset + 4 > received.length) break
      length = received.readUInt16BE(offset + 2)
      start = offset + 4
    } else if (length === 127) {
      if (offset + 10 > received.length) break
      length = Number(received.readBigUInt64BE(offset + 2))
      start = offset + 10
    }
    if (start + length > received.length) break
    frames.push({
      fin: (received[offset] & 0x80) !== 0,
      masked: (received[offset + 1] & 0x80) !== 0,
      opcode: received[offset] & 0x0f,
      payload: received.subarray(start, start + length)
    })
    offset = start + length
  }
  return frames
}

const texts = (received: Buffer) =>
  serverFrames(received).filter((frame) => frame.opcode === 1).map((frame) => frame.payload.toString("utf8"))

/** Sends a masked text frame on the raw socket and waits for its echo. */
const assertRawEcho = (raw: RawSocket, text: string) =>
  Effect.gen(function*() {
    yield* raw.write(clientFrame(1, Buffer.from(text)))
    const received = yield* raw.readUntil((received) => texts(received).includes(text))
    assert.include(texts(received), text)
  })

/** A close frame (opcode 8) carrying `code`. */
const closeFrame = (code: number) => {
  const payload = Buffer.alloc(2)
  payload.writeUInt16BE(code)
  return clientFrame(8, payload)
}

/** A binary frame header declaring a 64-bit payload `length`, masked, with no payload at all. */
const declaredLength = (length: bigint) => {
  const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
  header.writeBigUInt64BE(length, 2)
  return header
}

/** Handshake, send `frames`, expect the server's close `code`, `onClose` as an error, and still serving. */
const violation = (name: string, frames: ReadonlyArray<Buffer>, code: number) =>
  it.live(`${name} closes with ${code}, onClose runs, the server keeps serving`, () =>
    Effect.gen(function*() {
      const server = yield* echoServer
      const raw = yield* handshake(server.port)
      yield* raw.write(Buffer.concat(frames))
      const received = yield* raw.ended
      assert.strictEqual(serverCloseCode(received), code)
      const info = yield* server.nextClose
      assert.strictEqual(info.code, code)
      assert.strictEqual(info.initiator, "error")
      yield* assertStillServing(server.port)
    }))

const hi = Buffer.from("hi")

describe("wire conformance (raw frames)", () => {
  describe("framing", () => {
    violation("an unmasked client frame", [clientFrame(1, hi, { mask: false })], 1002)
    violation("RSV1 without negotiated compression", [clientFrame(1, hi, { rsv: 4 })], 1002)
    violation("RSV2 set", [clientFrame(1, hi, { rsv: 2 })], 1002)
    violation("RSV3 set", [clientFrame(1, hi, { rsv: 1 })], 1002)
    violation("unknown data opcode 0x3", [clientFrame(0x3, hi)], 1002)
    violation("unknown control opcode 0xB", [clientFrame(0xb, hi)], 1002)
  })

  describe("control frames", () => {
    violation("a fragmented ping (FIN=0)", [clientFrame(9, hi, { fin: false })], 1002)
    violation("a ping with a 126-byte payload", [clientFrame(9, Buffer.alloc(126, 0x61))], 1002)
    for (const code of [999, 1005, 1006, 1015]) {
      violation(`a close frame with code ${code}`, [closeFrame(code)], 1002)
    }
    violation("a close frame with a one-byte payload", [clientFrame(8, Buffer.from([0x03]))], 1002)
  })

  describe("fragmentation", () => {
    violation("a continuation frame with no message started", [clientFrame(0, hi)], 1002)
    violation(
      "a new text frame inside a fragmented message",
      [clientFrame(1, Buffer.from("he"), { fin: false }), clientFrame(1, Buffer.from("llo"))],
      1002
    )
  })

  describe("UTF-8", () => {
    violation("invalid UTF-8 in a single text frame", [clientFrame(1, Buffer.from([0xc3, 0x28]))], 1007)
    violation(
      "invalid UTF-8 split across fragments",
      [clientFrame(1, Buffer.from([0xe2, 0x82]), { fin: false }), clientFrame(0, Buffer.from([0x28]))],
      1007
    )

    it.live("a valid character split across fragments is reassembled and echoed intact", () =>
      Effect.gen(function*() {
        const server = yield* echoServer
        const raw = yield* handshake(server.port)
        yield* raw.write(clientFrame(1, Buffer.from([0xe2]), { fin: false }))
        yield* raw.write(clientFrame(0, Buffer.from([0x82, 0xac])))
        const received = yield* raw.readUntil((received) => texts(received).length > 0)
        assert.deepStrictEqual(texts(received), ["€"])
        assert.strictEqual(serverCloseCode(received), undefined)
        yield* assertStillServing(server.port)
      }))
  })

  describe("declared payload length", () => {
    violation("a 64-bit length of 2^63", [declaredLength(2n ** 63n)], 1009)
    violation("a length of 1 MiB + 1 (header only)", [declaredLength(BigInt(1024 * 1024 + 1))], 1009)
  })

  describe("ping and pong", () => {
    it.live("a ping is answered with a pong carrying the same payload", () =>
      Effect.gen(function*() {
        const server = yield* echoServer
        const raw = yield* handshake(server.port)
        yield* raw.write(clientFrame(9, Buffer.from("hello")))
        const received = yield* raw.readUntil((received) => serverFrames(received).length > 0)
        const [pong] = serverFrames(received)
        assert.strictEqual(pong.opcode, 0xa)
        assert.isTrue(pong.fin)
        assert.isFalse(pong.masked)
        assert.strictEqual(pong.payload.toString("utf8"), "hello")
        yield* assertRawEcho(raw, "after the ping")
        yield* assertStillServing(server.port)
      }))

    const pingNumbered = (i: number) => {
      const payload = Buffer.alloc(4)
      payload.writeUInt32BE(i)
      return clientFrame(9, payload)
    }
    const pongsIn = (received: Buffer) => serverFrames(received).filter((frame) => frame.opcode === 0xa)

    it.live("10,000 pings, 25 in flight at a time, get 10,000 pongs in order; the connection stays open", () =>
      Effect.gen(function*() {
        const count = 10_000
        const batch = 25
        const server = yield* echoServer
        const raw = yield* handshake(server.port)
        for (let sent = 0; sent < count; sent += batch) {
          yield* raw.write(Buffer.concat(Array.from({ length: batch }, (_, i) => pingNumbered(sent + i))))
          yield* raw.readUntil((received) => pongsIn(received).length >= sent + batch)
        }
        const pongs = pongsIn(yield* raw.readUntil(() => true))
        assert.strictEqual(pongs.length, count)
        const wrong = pongs.findIndex((pong, i) => pong.payload.length !== 4 || pong.payload.readUInt32BE(0) !== i)
        assert.strictEqual(wrong, -1, "every pong carries its ping's payload, in order")
        yield* assertRawEcho(raw, "after 10,000 pings")
        assert.strictEqual(serverCloseCode(yield* raw.readUntil(() => true)), undefined, "no close frame")
        assert.isFalse(raw.socket.destroyed, "the server did not drop the connection")
        yield* assertStillServing(server.port)
      }))

    it.live("61 pings in one write from a client that reads: no close, and the last pong answers the last ping", () =>
      Effect.gen(function*() {
        const server = yield* echoServer
        const raw = yield* handshake(server.port)
        yield* raw.write(Buffer.concat(Array.from({ length: 61 }, (_, i) => pingNumbered(i))))
        const last = (received: Buffer) => pongsIn(received).at(-1)?.payload.readUInt32BE(0)
        yield* raw.readUntil((received) => last(received) === 60)
        yield* assertRawEcho(raw, "after a burst of 61 pings")
        assert.strictEqual(serverCloseCode(yield* raw.readUntil(() => true)), undefined, "no close frame")
        assert.isFalse(raw.socket.destroyed)
      }))

    it.live("a burst of 10,000 pings in one write: pongs for the first ones and the last, no close, still serving", () =>
      Effect.gen(function*() {
        const server = yield* echoServer
        const raw = yield* handshake(server.port)
        yield* raw.write(Buffer.concat(Array.from({ length: 10_000 }, (_, i) => pingNumbered(i))))
        // at most 60 pongs owed, as ws: then only the most recent ping is answered (RFC 6455, 5.5.3)
        const received = yield* raw.readUntil((bytes) => pongsIn(bytes).at(-1)?.payload.readUInt32BE(0) === 9_999)
        const pongs = pongsIn(received).map((pong) => pong.payload.readUInt32BE(0))
        assert.isTrue(pongs.every((ping, i) => i === 0 || ping > pongs[i - 1]), "pongs answer pings in order")
        assert.deepStrictEqual(pongs.slice(0, 60), Array.from({ length: 60 }, (_, i) => i))
        yield* assertRawEcho(raw, "after 10,000 pings")
        assert.strictEqual(serverCloseCode(yield* raw.readUntil(() => true)), undefined, "no close frame")
        yield* assertStillServing(server.port)
      }))

    it.live("a client whose pongs cannot be written holds the server to a bounded number of pongs", () =>
      Effect.gen(function*() {
        const server = yield* echoServer
        const raw = yield* handshake(server.port)
        const [socket] = server.sockets
        // nothing the server writes leaves its socket: the state of a peer that stopped reading once
        // the kernel's buffers are full, reached at once
        socket.cork()
        yield* raw.write(Buffer.concat(Array.from({ length: 1000 }, (_, i) => pingNumbered(i))))
        yield* within(
          "the server reads every ping",
          Effect.repeat(Effect.sync(() => socket.bytesRead), { until: (read) => read >= 1000 * 10 })
        )
        // at most ws's 60 pongs (6 bytes each with a 4-byte payload) wait, and one is owed
        assert.isAtMost(socket.writableLength, 60 * 6)
        socket.uncork()
        // once written, the owed pong answers the most recent ping
        const received = yield* raw.readUntil((bytes) => pongsIn(bytes).at(-1)?.payload.readUInt32BE(0) === 999)
        assert.isAtMost(pongsIn(received).length, 61)
        yield* assertRawEcho(raw, "after the pings")
      }))
  })
})
