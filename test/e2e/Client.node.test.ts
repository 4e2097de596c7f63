// The typed Client against real servers on real sockets (127.0.0.1, port 0): through `ws` on Node 20,
// a server process restarted on the same port (SIGTERM: 1001) and one killed (SIGKILL: no close frame,
// 1006), a peer that goes silent (the heartbeat's 4000), a policy close (1008: closed for good), a
// binary protocol; and Node 22's global WebSocket, in a child process, through a restart of the test's
// server. The server processes and the Node 22 program are bundled once (test/support/bundle.ts): each
// starts in well under a second, where `--import tsx` takes several.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue, Schedule, Stream } from "effect"
import { Client, type Protocol } from "effect-websocket"
import type { IncomingMessage } from "node:http"
import * as Net from "node:net"
import type { AddressInfo } from "node:net"
import { performance } from "node:perf_hooks"
import { WebSocket, WebSocketServer } from "ws"
import { clientRoutes, Count, Echo } from "../fixtures/client-routes.js"
import { bundle, type Bundles } from "../support/bundle.js"
import { startProgram } from "../support/program.js"
import { serve, within } from "../support/server.js"

/** The Node 22 binary (installed into .tools/ on first use), from the script the Effect 4 line runs on. */
const node22Script: string = "../../scripts/node22.mjs"
const { node22 } = (await import(node22Script)) as { readonly node22: () => string }

const serverFixture = "test/fixtures/client-server.ts"
const node22Fixture = "test/fixtures/client-node22-reconnect.ts"

let bundles: Bundles | undefined
beforeAll(async () => {
  bundles = await bundle([serverFixture, node22Fixture])
})
afterAll(() => bundles?.remove())

/** Short waits, so that a reconnection takes a fraction of a second. */
const fast = { initial: "50 millis", max: "200 millis" } as const

/** test/fixtures/client-server.ts in a process of its own, called `name`, on `port` (0: any). */
const startServer = (name: string, port = 0) =>
  Effect.flatMap(
    startProgram(bundles!.path(serverFixture), {
      tsx: false,
      env: { PORT: String(port), SERVER_NAME: name },
      ready: (output) => {
        const match = /^listening (\d+)$/m.exec(output)
        return match === null ? undefined : Number(match[1])
      },
      readySeconds: 15
    }),
    (program) => Effect.map(program.ready, (port) => ({ ...program, port }))
  )

/** What a test reads of a client: every state it goes through and every message, from the start. */
const watch = <In, Out, Req extends Protocol.Requests>(client: Client.Client<In, Out, Req>) =>
  Effect.gen(function*() {
    const states: Array<Client.State> = []
    yield* Effect.forkScoped(Stream.runForEach(client.state.changes, (state) => Effect.sync(() => states.push(state))))
    const messages = yield* Queue.unbounded<Out>()
    const consumer = yield* Effect.forkScoped(Stream.runForEach(client.messages, (m) => Queue.offer(messages, m)))
    return {
      states,
      next: within("a message from the server", Queue.take(messages)),
      /** Ends when `messages` ends. */
      messagesEnd: within("the end of messages", Fiber.join(consumer)),
      /** The first state from index `from` on that is a `tag`, and its index. */
      reach: <Tag extends Client.State["_tag"]>(tag: Tag, from = 0) =>
        within(
          `the client reaches ${tag}`,
          Effect.sync(() => states.findIndex((state, i) => i >= from && state._tag === tag)).pipe(
            Effect.filterOrFail((index) => index !== -1),
            Effect.retry(Schedule.spaced("10 millis")),
            Effect.map((index) => [index, states[index] as Extract<Client.State, { _tag: Tag }>] as const)
          )
        )
    }
  })

/** An `onConnect` that joins, and a record of each join's answer (or failure). */
const joining = (user: string) => {
  const joins: Array<unknown> = []
  const onConnect = (
    client: Client.Client<Protocol.Incoming<typeof Echo>, unknown, Protocol.ClientRequests<typeof Echo>>
  ) =>
    client.request("join", { user }).pipe(
      Effect.match({ onFailure: (error) => `join failed: ${error}`, onSuccess: (joined) => joined }),
      Effect.map((joined) => void joins.push(joined))
    )
  return { joins, onConnect }
}

describe("Client on Node 20, through ws", () => {
  it.scopedLive("a typed round trip and requests both ways, then a restart on the same port (SIGTERM: 1001): the request in flight fails Closed, the client re-joins, and what it sent meanwhile follows in order", () =>
    Effect.gen(function*() {
      const first = yield* startServer("first")
      const { joins, onConnect } = joining("ada")
      const client = yield* Client.make(Echo, `ws://127.0.0.1:${first.port}/echo`, {
        webSocket: WebSocket,
        reconnect: fast,
        buffer: 10,
        onConnect,
        onRequest: { whoAreYou: () => Effect.succeed("node 20") }
      })
      const watched = yield* watch(client)
      yield* within("the client opens", client.awaitOpen)
      assert.deepStrictEqual(joins, [{ server: "first", joins: 1 }])

      yield* client.send({ text: "hello" })
      yield* client.send({ text: "who" }) // the server asks the client whoAreYou, onRequest answers
      assert.strictEqual(yield* client.request("double", 21), 42)
      assert.deepStrictEqual(yield* Effect.flip(client.request("double", 5000)), { tooBig: 5000 })
      assert.deepStrictEqual(yield* watched.next, { echoed: "hello", server: "first", joined: true })
      assert.deepStrictEqual(yield* watched.next, { echoed: "you are node 20", server: "first", joined: true })

      const inFlight = yield* Effect.fork(Effect.flip(client.request("hold", undefined, { timeout: "5 seconds" })))
      // the server handles a connection's frames in order: once `double` is answered, `hold` is in
      assert.strictEqual(yield* client.request("double", 1), 2)
      const [open] = yield* watched.reach("Open")
      first.child.kill("SIGTERM")
      yield* first.exited
      const error = yield* within("the request in flight fails", Fiber.join(inFlight))
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual((error as Client.RequestError).reason, "Closed")
      const [down, reconnecting] = yield* watched.reach("Reconnecting", open)
      assert.strictEqual(reconnecting.code, 1001)

      // the server is down: sends are kept (buffer: 10), to go out in order once the client re-joined
      for (let i = 1; i <= 5; i++) yield* client.send({ text: `kept ${i}` })
      const second = yield* startServer("second", first.port)
      assert.strictEqual(second.port, first.port)
      yield* watched.reach("Open", down)
      assert.deepStrictEqual(joins, [{ server: "first", joins: 1 }, { server: "second", joins: 1 }])
      for (let i = 1; i <= 5; i++) {
        assert.deepStrictEqual(yield* watched.next, { echoed: `kept ${i}`, server: "second", joined: true })
      }
      yield* client.send({ text: "after the restart" })
      assert.deepStrictEqual(yield* watched.next, { echoed: "after the restart", server: "second", joined: true })
      assert.isFalse(watched.states.some((state) => state._tag === "Closed"))
    }))

  it.scopedLive("a server SIGKILLed (no close frame: 1006): the client keeps trying and reconnects when one is back on the port", () =>
    Effect.gen(function*() {
      const first = yield* startServer("first")
      const { joins, onConnect } = joining("grace")
      const client = yield* Client.make(Echo, `ws://127.0.0.1:${first.port}/echo`, {
        webSocket: WebSocket,
        reconnect: fast,
        onConnect
      })
      const watched = yield* watch(client)
      yield* within("the client opens", client.awaitOpen)
      yield* client.send({ text: "hello" })
      assert.deepStrictEqual(yield* watched.next, { echoed: "hello", server: "first", joined: true })

      const [open] = yield* watched.reach("Open")
      first.child.kill("SIGKILL")
      yield* first.exited
      const [down, reconnecting] = yield* watched.reach("Reconnecting", open)
      assert.strictEqual(reconnecting.code, 1006)
      // nothing listens: each attempt is refused (1006 again), and the client goes on
      yield* watched.reach("Reconnecting", down + 1)
      const notConnected = yield* Effect.flip(client.send({ text: "lost" }))
      assert.strictEqual(notConnected._tag, "ClientError")
      assert.strictEqual((notConnected as Client.ClientError).reason, "NotConnected") // buffer: 0

      yield* startServer("second", first.port)
      yield* watched.reach("Open", down)
      assert.deepStrictEqual(joins, [{ server: "first", joins: 1 }, { server: "second", joins: 1 }])
      yield* client.send({ text: "back" })
      assert.deepStrictEqual(yield* watched.next, { echoed: "back", server: "second", joined: true })
    }))

  it.scopedLive("a peer that goes silent (no close, no answer): the heartbeat drops it with 4000 within two intervals, and the client reconnects", () =>
    Effect.gen(function*() {
      // accepts the upgrade, then reads nothing more: neither the heartbeat nor, later, the close frame
      const upgrades: Array<IncomingMessage> = []
      const silent = yield* Effect.acquireRelease(
        Effect.async<WebSocketServer>((resume) => {
          const wss: WebSocketServer = new WebSocketServer(
            { host: "127.0.0.1", port: 0 },
            () => resume(Effect.succeed(wss))
          )
          wss.on("connection", (_ws, request) => {
            upgrades.push(request)
            request.socket.pause()
          })
        }),
        (wss) =>
          Effect.async<void>((resume) => {
            for (const request of upgrades) request.socket.destroy()
            wss.close(() => resume(Effect.void))
          })
      )
      const interval = 300
      const client = yield* Client.make(Echo, `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/`, {
        webSocket: WebSocket,
        heartbeat: `${interval} millis`,
        reconnect: fast
      })
      const watched = yield* watch(client)
      yield* within("the client opens", client.awaitOpen)
      const opened = performance.now()
      const [open] = yield* watched.reach("Open")
      const [down, reconnecting] = yield* watched.reach("Reconnecting", open)
      const elapsed = performance.now() - opened
      assert.strictEqual(reconnecting.code, 4000)
      assert.strictEqual(reconnecting.reason, "heartbeat timeout")
      // the first heartbeat goes out after one interval; no answer by the second drops the connection
      // (the margin is for a loaded machine's late timers)
      assert.isAtLeast(elapsed, 2 * interval - 50)
      assert.isBelow(elapsed, 2 * interval + 900)
      yield* watched.reach("Open", down)
      assert.strictEqual(upgrades.length, 2)
    }))

  it.scopedLive("a policy close (1008) is not retried: the client is Closed for good, sends fail Closed, messages end", () =>
    Effect.gen(function*() {
      const server = yield* serve(clientRoutes("in-process"))
      const client = yield* Client.make(Echo, `ws://127.0.0.1:${server.port}/echo`, {
        webSocket: WebSocket,
        reconnect: fast,
        buffer: 10
      })
      const watched = yield* watch(client)
      yield* within("the client opens", client.awaitOpen)
      yield* client.send({ text: "forbidden" })
      const [, closed] = yield* watched.reach("Closed")
      assert.deepStrictEqual(closed, { _tag: "Closed", code: 1008, reason: "forbidden" })
      yield* watched.messagesEnd
      const refused = yield* Effect.flip(client.send({ text: "still there?" }))
      assert.deepStrictEqual([refused._tag, (refused as Client.ClientError).reason], ["ClientError", "Closed"])
      assert.strictEqual((refused as Client.ClientError).code, 1008)
      assert.strictEqual((yield* Effect.flip(client.awaitOpen)).reason, "Closed")
      // longer than the longest wait between attempts: no attempt came
      yield* Effect.sleep("300 millis")
      assert.strictEqual(server.sockets.length, 1)
      assert.isFalse(watched.states.some((state) => state._tag === "Reconnecting"))
    }))

  it.scopedLive("a binary protocol: values go out and come back as bytes, and the route answers the heartbeat (text) without closing 1003", () =>
    Effect.gen(function*() {
      const server = yield* serve(clientRoutes("in-process"))
      const client = yield* Client.make(Count, `ws://127.0.0.1:${server.port}/count`, {
        webSocket: WebSocket,
        heartbeat: "100 millis",
        reconnect: false
      })
      const watched = yield* watch(client)
      yield* within("the client opens", client.awaitOpen)
      yield* client.send(41)
      assert.strictEqual(yield* watched.next, 42)
      yield* client.send(0xfffffffe)
      assert.strictEqual(yield* watched.next, 0xffffffff)
      // three heartbeats, each answered before the next is due
      yield* Effect.sleep("350 millis")
      assert.deepStrictEqual(yield* client.state.get, { _tag: "Open" })
      yield* client.send(7)
      assert.strictEqual(yield* watched.next, 8)
      assert.strictEqual(server.sockets.length, 1)
    }))
})

describe("Client on Node 20: a server that never answers the upgrade", () => {
  it.scopedLive("connectTimeout gives it up as 1006 \"connect timeout\", and closing while a handshake is pending does not crash the process (ws's late \"error\" event)", () =>
    Effect.gen(function*() {
      // takes the TCP connection and never answers
      const sockets: Array<Net.Socket> = []
      const server = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const tcp: Net.Server = Net.createServer((socket) => void sockets.push(socket))
          tcp.listen(0, "127.0.0.1", () => resume(Effect.succeed(tcp)))
        }),
        (tcp) =>
          Effect.async<void>((resume) => {
            for (const socket of sockets) socket.destroy()
            tcp.close(() => resume(Effect.void))
          })
      )
      const port = (server.address() as AddressInfo).port
      const errors: Array<unknown> = []
      const onError = (error: unknown) => void errors.push(error)
      process.on("uncaughtException", onError)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("uncaughtException", onError)))
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* Client.make(Echo, `ws://127.0.0.1:${port}/echo`, {
          webSocket: WebSocket,
          connectTimeout: "200 millis",
          reconnect: { initial: "5 seconds", max: "5 seconds", jitter: 0 }
        })
        const waiting = yield* within(
          "Reconnecting",
          Stream.runHead(Stream.filter(client.state.changes, (state) => state._tag === "Reconnecting"))
        )
        assert.deepInclude(waiting._tag === "Some" ? waiting.value : {}, { code: 1006, reason: "connect timeout" })
        // and a second client closed (its scope ends) while its handshake is still pending
        yield* Client.make(Echo, `ws://127.0.0.1:${port}/echo`, { webSocket: WebSocket })
        yield* Effect.sleep("100 millis")
      }))
      // ws emits its "error" for the aborted handshake on a later tick
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(errors.map(String), [])
    }))
})

describe("Client on Node 22, through its global WebSocket", () => {
  it.scopedLive(
    "requests both ways and a typed failure, then a restart of the server on the same port: Reconnecting 1001, re-joined, open again",
    () =>
      Effect.gen(function*() {
        const first = yield* serve(clientRoutes("first"))
        const program = yield* startProgram(bundles!.path(node22Fixture), {
          node: node22(),
          tsx: false,
          args: [`ws://127.0.0.1:${first.port}/echo`],
          env: {},
          ready: (output) => /^open$/m.test(output) ? true : undefined,
          readySeconds: 15
        })
        yield* program.ready
        yield* first.shutdown // graceful: 1001 to the Node 22 client
        yield* serve(clientRoutes("second"), { port: first.port })
        const code = yield* program.exited
        assert.strictEqual(code, 0, program.output())
        const result = JSON.parse(program.output().trim().split("\n").at(-1)!)
        assert.strictEqual(Number(result.node.split(".")[0]), 22)
        assert.strictEqual(result.global, "function")
        assert.strictEqual(result.doubled, 42)
        assert.deepStrictEqual(result.refused, { tooBig: 5000 })
        assert.deepStrictEqual(result.before, [
          { echoed: "hello", server: "first", joined: true },
          { echoed: "you are node 22", server: "first", joined: true }
        ])
        assert.deepStrictEqual(result.after, { echoed: "again", server: "second", joined: true })
        assert.deepStrictEqual(result.joins, [{ server: "first", joins: 1 }, { server: "second", joins: 1 }])
        // Connecting may come before the client's first look at its state
        const states: Array<string> = result.states
        assert.deepStrictEqual(states.slice(states.indexOf("Open"), states.indexOf("Open") + 2), [
          "Open",
          "Reconnecting 1001"
        ])
        assert.strictEqual(states.at(-1), "Open")
        assert.isFalse(states.some((state) => state.startsWith("Closed")))
      }),
    60_000
  )
})
