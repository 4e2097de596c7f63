// Broadcast on real sockets: a message is framed once and the same bytes are written to every
// subscriber without compression; compressed connections get it through their own context; the
// publishes of one turn leave in one write per socket.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Action, Broadcast, Upgrade } from "effect-websocket"
import * as Net from "node:net"
import type WebSocket from "ws"
import { openWs } from "../support/client.js"
import { eventually, route, serve, within } from "../support/server.js"

type Writer = (this: Net.Socket, ...args: Array<unknown>) => unknown

/** Records what is written to server sockets (those with a remote port), by peer port. */
const recordWrites = Effect.acquireRelease(
  Effect.sync(() => {
    const proto = Net.Socket.prototype as unknown as Record<"write" | "_write" | "_writev", Writer>
    const original = { write: proto.write, _write: proto._write, _writev: proto._writev }
    const chunks = new Map<number, Array<unknown>>()
    const syscalls = new Map<number, number>()
    proto.write = function(this: Net.Socket, ...args: Array<unknown>) {
      if (this.remotePort !== undefined) chunks.set(this.remotePort, [...(chunks.get(this.remotePort) ?? []), args[0]])
      return original.write.apply(this, args)
    }
    for (const name of ["_write", "_writev"] as const) {
      proto[name] = function(this: Net.Socket, ...args: Array<unknown>) {
        if (this.remotePort !== undefined) syscalls.set(this.remotePort, (syscalls.get(this.remotePort) ?? 0) + 1)
        return original[name].apply(this, args)
      }
    }
    const clear = () => {
      chunks.clear()
      syscalls.clear()
    }
    return { chunks, syscalls, clear, restore: () => Object.assign(proto, original) }
  }),
  ({ restore }) => Effect.sync(restore)
)

const subscribed = Upgrade.upgradeWebSocket({
  onInit: (connection) => Effect.as(Broadcast.subscribe(connection, "news"), Upgrade.initial(null)),
  onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}, { compression: true })

/** The next message of each socket, listened for from now on. */
const nextMessages = (sockets: ReadonlyArray<WebSocket>) => {
  const promises = sockets.map((ws) =>
    new Promise<string | Buffer>((resolve) => {
      ws.once("message", (data: Buffer, isBinary: boolean) => resolve(isBinary ? data : data.toString()))
    })
  )
  return within("messages", Effect.promise(() => Promise.all(promises)))
}

describe("Broadcast on Node sockets", () => {
  it.live("one frame for every uncompressed subscriber, the same bytes; compressed ones get it too", () =>
    Effect.gen(function*() {
      const broadcast = yield* Layer.build(Broadcast.layer())
      const server = yield* serve(route("/", Effect.provide(subscribed, broadcast)))
      const url = `ws://127.0.0.1:${server.port}/`
      const plain = (yield* Effect.all([1, 2, 3].map(() => within("open", openWs(url, { perMessageDeflate: false })))))
        .map((client) => client.ws)
      assert.isTrue(plain.every((ws) => ws.extensions === ""))
      const compressed = (yield* within("open", openWs(url, { perMessageDeflate: true }))).ws
      assert.include(compressed.extensions, "permessage-deflate")
      yield* Effect.yieldNow
      assert.strictEqual(yield* Broadcast.subscriberCount("news").pipe(Effect.provide(broadcast)), 4)
      const writes = yield* recordWrites
      const received = nextMessages([...plain, compressed])
      const headline = "a headline ".repeat(20)
      yield* Broadcast.publish("news", headline).pipe(Effect.provide(broadcast))
      const messages = yield* received
      assert.deepStrictEqual(messages, [headline, headline, headline, headline])
      const frames = plain.map((ws) => writes.chunks.get((ws as unknown as { _socket: Net.Socket })._socket.localPort!))
      assert.isTrue(frames.every((chunks) => chunks?.length === 1), "one write per plain socket")
      assert.strictEqual(new Set(frames.map((chunks) => chunks![0])).size, 1, "the very same Buffer for all")
      yield* Effect.sync(() => writes.clear())
      const bytes = new Uint8Array([0, 1, 2, 255])
      const binary = nextMessages(plain)
      yield* Broadcast.publish("news", bytes).pipe(Effect.provide(broadcast))
      for (const data of yield* binary) assert.deepStrictEqual([...(data as Buffer)], [0, 1, 2, 255])
    }))

  it.live("the publishes of one turn leave in one write per socket", () =>
    Effect.gen(function*() {
      const broadcast = yield* Layer.build(Broadcast.layer())
      const server = yield* serve(route("/", Effect.provide(subscribed, broadcast)))
      const url = `ws://127.0.0.1:${server.port}/`
      const clients = (yield* Effect.all([openWs(url), openWs(url)].map((open) => within("open", open))))
        .map((client) => client.ws)
      yield* Effect.yieldNow
      const writes = yield* recordWrites
      const all = clients.map((ws) => {
        const seen: Array<string> = []
        ws.on("message", (data: Buffer) => seen.push(data.toString()))
        return seen
      })
      yield* Effect.forEach(["one", "two", "three"], (text) => Broadcast.publish("news", text)).pipe(
        Effect.provide(broadcast)
      )
      yield* eventually("received", Effect.sync(() => all.every((seen) => seen.length === 3)), 5, "5 millis")
      assert.deepStrictEqual(all, [["one", "two", "three"], ["one", "two", "three"]])
      for (const ws of clients) {
        const port = (ws as unknown as { _socket: Net.Socket })._socket.localPort!
        assert.strictEqual(writes.syscalls.get(port), 1, "three frames, one system call")
      }
    }))
})
