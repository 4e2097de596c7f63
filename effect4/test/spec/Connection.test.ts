import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Connection } from "effect-websocket"
import { HttpServerRequest } from "effect/http"
import { EventEmitter } from "node:events"
import type WebSocket from "ws"
import { ConnectionImpl } from "../../src/internal/connection.js"
import { Liveness } from "../../src/internal/liveness.js"
import type { Socket } from "../../src/internal/node/compat/ws.js"
import { NodeTransport } from "../../src/internal/node/transport.js"

/** A stand-in for an open `ws` socket whose sends throw, as a broken socket's might. */
const brokenSocket = (readyState: number) =>
  Object.assign(new EventEmitter(), {
    readyState,
    bufferedAmount: 0,
    send: () => {
      throw new Error("EPIPE")
    }
  }) as unknown as WebSocket

/** The TCP socket under it: the transport corks it around sends. */
const socket = () => Object.assign(new EventEmitter(), { cork: () => {}, uncork: () => {} }) as never

const request = HttpServerRequest.fromWeb(new Request("http://localhost/ws"))
const connectionOn = (ws: WebSocket) => {
  const transport = new NodeTransport(ws as Socket, socket(), () => ({ push: () => {}, pong: () => {} }), "", 0)
  const report = { push: () => {} }
  return new ConnectionImpl(transport, request, undefined, new Liveness(transport, report), report, {
    highWaterMark: 1024,
    policy: "fail",
    sendTimeout: Duration.seconds(1)
  }, "/ws")
}

describe("Connection", () => {
  describe("SendError", () => {
    it("has a readable message for every reason", () => {
      for (const reason of ["SocketClosed", "Timeout", "Backpressure", "Unknown"] as const) {
        const error = new Connection.SendError({ reason, cause: "boom" })
        assert.strictEqual(error._tag, "SendError")
        assert.isAbove(error.message.length, 10)
      }
      assert.include(new Connection.SendError({ reason: "Unknown", cause: "boom" }).message, "boom")
    })
  })

  describe("sendText", () => {
    it.effect("turns a transport exception into SendError Unknown with the cause", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Connection.sendText(connectionOn(brokenSocket(1)), "hi"))
        assert.strictEqual(error.reason, "Unknown")
        assert.strictEqual((error.cause as Error).message, "EPIPE")
      }))

    it.effect("fails with SocketClosed on a closing or closed socket, without touching it", () =>
      Effect.gen(function*() {
        for (const readyState of [2, 3]) {
          const error = yield* Effect.flip(Connection.sendText(connectionOn(brokenSocket(readyState)), "hi"))
          assert.strictEqual(error.reason, "SocketClosed")
        }
      }))

    it.effect("works data-last", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(connectionOn(brokenSocket(3)).pipe(Connection.sendText("hi")))
        assert.strictEqual(error.reason, "SocketClosed")
      }))
  })

  describe("sendBinary", () => {
    it.effect("turns a transport exception into SendError Unknown, and closed into SocketClosed", () =>
      Effect.gen(function*() {
        const unknown = yield* Effect.flip(Connection.sendBinary(connectionOn(brokenSocket(1)), new Uint8Array(1)))
        assert.strictEqual(unknown.reason, "Unknown")
        const closed = yield* Effect.flip(Connection.sendBinary(connectionOn(brokenSocket(3)), new Uint8Array(1)))
        assert.strictEqual(closed.reason, "SocketClosed")
      }))
  })

  describe("isConnection", () => {
    it("recognises connections", () => {
      assert.isTrue(Connection.isConnection(connectionOn(brokenSocket(1))))
      assert.isFalse(Connection.isConnection({ send: () => {} }))
    })
  })
})
