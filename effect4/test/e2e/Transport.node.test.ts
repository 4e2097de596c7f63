// How the Node transport writes: the sends of one run of the loop share one system call, and a send
// is never held back by a handler that goes on to wait.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"
import * as Net from "node:net"
import { openWs } from "../support/client.js"
import { route, serve, within } from "../support/server.js"

type Writer = (this: Net.Socket, ...args: Array<unknown>) => unknown

/** Counts the writes (system calls issued by Node's stream machinery) of server sockets, by peer port. */
const countWrites = Effect.acquireRelease(
  Effect.sync(() => {
    const proto = Net.Socket.prototype as unknown as Record<"_write" | "_writev", Writer>
    const original = { _write: proto._write, _writev: proto._writev }
    const counts = new Map<number, number>()
    for (const name of ["_write", "_writev"] as const) {
      proto[name] = function(this: Net.Socket, ...args: Array<unknown>) {
        if (this.remotePort !== undefined) counts.set(this.remotePort, (counts.get(this.remotePort) ?? 0) + 1)
        return original[name].apply(this, args)
      }
    }
    return { counts, restore: () => Object.assign(proto, original) }
  }),
  ({ restore }) => Effect.sync(restore)
)

describe("Node transport writes", () => {
  it.live("the frames sent while handling a batch go out in one write", () =>
    Effect.gen(function*() {
      const writes = yield* countWrites
      const ws = Upgrade.upgradeWebSocket({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
          message._tag === "TextMessage"
            ? Effect.as(
              Effect.forEach(Array.from({ length: 10 }, (_, i) => `${message.text} ${i}`), (text) =>
                Connection.sendText(connection, text)),
              Action.continueConnection(state)
            )
            : Effect.succeed(Action.continueConnection(state)),
        onClose: () =>
          Effect.void
      }, { heartbeat: false, idleTimeout: false })
      const server = yield* serve(route("/ws", ws))
      const client = yield* openWs(`ws://127.0.0.1:${server.port}/ws`)
      const port = (client.ws as unknown as { readonly _socket: Net.Socket })._socket.localPort!
      const before = writes.counts.get(port) ?? 0
      client.ws.send("burst")
      const received: Array<string> = []
      for (let i = 0; i < 10; i++) received.push(yield* client.next)
      assert.deepStrictEqual(received, Array.from({ length: 10 }, (_, i) => `burst ${i}`))
      // ws writes each frame with its own cork/uncork: ten frames would be ten writes
      assert.strictEqual((writes.counts.get(port) ?? 0) - before, 1)
    }))

  it.live("a frame sent before the handler waits goes out while it waits", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const ws = Upgrade.upgradeWebSocket({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, _: Message.Message<never>, connection: Connection.Connection) =>
          Connection.sendText(connection, "first").pipe(
            Effect.andThen(Deferred.await(gate)),
            Effect.andThen(Connection.sendText(connection, "second")),
            Effect.as(Action.continueConnection(state))
          ),
        onClose: () => Effect.void
      }, { heartbeat: false, idleTimeout: false })
      const server = yield* serve(route("/ws", ws))
      const client = yield* openWs(`ws://127.0.0.1:${server.port}/ws`)
      client.ws.send("go")
      assert.strictEqual(yield* within("the first frame, sent before the wait", client.next, 2), "first")
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* client.next, "second")
    }))
})
