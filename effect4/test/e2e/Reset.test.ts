// Hostile peers on a real server process (test/fixtures/reset-server.ts): a TCP reset at every point
// of a WebSocket handshake and of a connection must never take the process down, and must leave
// nothing behind.
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import { openWs } from "../support/client.js"
import { startProgram } from "../support/program.js"
import {
  clientFrame,
  handshakeHeaders,
  handshakeRequest,
  rawConnect,
  serverCloseCode,
  statusOf,
  within
} from "../support/server.js"

class Server extends Context.Service<Server, {
  readonly port: number
  readonly output: () => string
  readonly running: () => boolean
}>()("test/Reset/Server") {}

const ServerLive = Layer.effect(
  Server,
  Effect.gen(function*() {
    const program = yield* startProgram("test/fixtures/reset-server.ts", {
      env: { PORT: "0" },
      nodeFlags: ["--expose-gc"],
      ready: (output) => {
        const match = /^listening (\d+)$/m.exec(output)
        return match === null ? undefined : Number(match[1])
      },
      readySeconds: 30
    })
    const port = yield* program.ready
    return {
      port,
      output: program.output,
      running: () => program.child.exitCode === null && program.child.signalCode === null
    }
  })
)

type When = "at once" | "next tick" | "on the first byte of the answer" | "after 100 ms"

/** Opens a TCP connection, writes `request`, and resets the connection at `when`. */
const resetAfter = (port: number, request: string | Buffer, when: When) =>
  within(
    `reset (${when})`,
    Effect.callback<void>((resume) => {
      const socket = Net.connect(port, "127.0.0.1", () => {
        socket.write(request)
        if (when === "at once") socket.resetAndDestroy()
        else if (when === "next tick") setImmediate(() => socket.resetAndDestroy())
        else if (when === "after 100 ms") setTimeout(() => socket.resetAndDestroy(), 100)
        else socket.once("data", () => socket.resetAndDestroy())
      })
      socket.on("error", () => {})
      socket.on("close", () => resume(Effect.void))
    })
  )

const timings: ReadonlyArray<When> = ["at once", "next tick", "on the first byte of the answer"]

/** The process is still up and a well-behaved client still gets its echo. */
const assertServing = (what: string) =>
  Effect.gen(function*() {
    const server = yield* Server
    assert.isTrue(server.running(), `the server process exited after ${what}:\n${server.output()}`)
    const client = yield* openWs(`ws://127.0.0.1:${server.port}/ws`)
    client.ws.send(`still serving after ${what}`)
    assert.strictEqual(yield* client.next, `still serving after ${what}`)
    client.ws.close(1000)
    yield* client.closed
  })

const { "sec-websocket-key": _key, ...withoutKey } = handshakeHeaders

interface Refusal {
  readonly name: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly status: number
  /** The route's limit is full only while one connection is open. */
  readonly holdOne?: boolean
}

const refusals: ReadonlyArray<Refusal> = [
  { name: "a path with no route", path: "/nowhere", headers: handshakeHeaders, status: 404 },
  { name: "a route that answers 401", path: "/auth", headers: handshakeHeaders, status: 401 },
  { name: "a missing Sec-WebSocket-Key", path: "/ws", headers: withoutKey, status: 400 },
  {
    name: "Sec-WebSocket-Version: 8",
    path: "/ws",
    headers: { ...handshakeHeaders, "sec-websocket-version": "8" },
    status: 426
  },
  {
    name: "an origin that is not allowed",
    path: "/origin",
    headers: { ...handshakeHeaders, origin: "https://evil.example" },
    status: 403
  },
  {
    name: "maxConnectionsPerAddress reached",
    path: "/per-address",
    headers: handshakeHeaders,
    status: 429,
    holdOne: true
  },
  { name: "maxConnections reached", path: "/one", headers: handshakeHeaders, status: 503, holdOne: true },
  { name: "an option that throws", path: "/broken", headers: handshakeHeaders, status: 500 }
]

const text = (payload: string) => clientFrame(0x1, Buffer.from(payload))
const closeFrame = clientFrame(0x8, Buffer.from([0x03, 0xe8]))

/** Completes a handshake on a raw socket, then lets `then` drive it before a reset. */
const upgradeThenReset = (then: (raw: Net.Socket, received: () => Buffer) => Promise<void> | void) =>
  Effect.gen(function*() {
    const { port } = yield* Server
    const raw = yield* rawConnect(port)
    yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
    const response = yield* raw.readUntil((received) => received.includes("\r\n\r\n"))
    assert.strictEqual(statusOf(response), 101)
    yield* Effect.promise(async () => then(raw.socket, () => response))
  }).pipe(Effect.scoped)

const heapUsed = (port: number) =>
  within(
    "GET /heap",
    Effect.callback<number>((resume) => {
      Http.get({ host: "127.0.0.1", port, path: "/heap" }, (response) => {
        let body = ""
        response.on("data", (chunk: Buffer) => (body += chunk.toString()))
        response.on("end", () => resume(Effect.succeed(Number(body))))
      }).on("error", (error) => resume(Effect.die(error)))
    }),
    30
  )

/** Runs `effects` with at most `concurrency` at a time. */
const all = <R>(effects: ReadonlyArray<Effect.Effect<void, never, R>>) =>
  Effect.forEach(effects, (effect) => effect, { concurrency: 25, discard: true })

/** One reset of every kind this file tries, on the server at `port`. */
const everyKindOfReset = (port: number): ReadonlyArray<Effect.Effect<void>> => [
  ...refusals.filter((refusal) => refusal.holdOne !== true).flatMap((refusal) =>
    timings.map((when) => resetAfter(port, handshakeRequest(refusal.path, refusal.headers), when))
  ),
  resetAfter(port, handshakeRequest("/slow", handshakeHeaders), "next tick"),
  resetAfter(port, handshakeRequest("/ws", handshakeHeaders), "on the first byte of the answer"),
  resetAfter(port, Buffer.concat([Buffer.from(handshakeRequest("/ws", handshakeHeaders)), text("flood")]), "next tick")
]

layer(ServerLive, { timeout: 120_000, excludeTestServices: true })(
  "socket resets (test/fixtures/reset-server.ts)",
  (it) => {
    describe("a reset while the server refuses a handshake", () => {
      for (const refusal of refusals) {
        it.effect(`${refusal.name} (${refusal.status}): the process stays up and serves`, () =>
          Effect.gen(function*() {
            const { port } = yield* Server
            if (refusal.holdOne === true) {
              const held = yield* openWs(`ws://127.0.0.1:${port}${refusal.path}`)
              assert.strictEqual(held.ws.readyState, 1)
            }
            // what a peer that reads the answer gets: the refusal this case is about
            const raw = yield* rawConnect(port)
            yield* raw.write(handshakeRequest(refusal.path, refusal.headers))
            assert.strictEqual(
              statusOf(yield* raw.readUntil((received) => received.includes("\r\n\r\n"))),
              refusal.status
            )

            yield* all(
              Array.from(
                { length: 10 },
                () => timings.map((when) => resetAfter(port, handshakeRequest(refusal.path, refusal.headers), when))
              ).flat()
            )
            yield* assertServing(`resets on ${refusal.name}`)
          }))
      }
    })

    it.effect("a reset while a slow route decides: the route's fiber ends and the server serves", () =>
      Effect.gen(function*() {
        const { port } = yield* Server
        yield* all(
          Array.from({ length: 20 }, () => resetAfter(port, handshakeRequest("/slow", handshakeHeaders), "next tick"))
        )
        yield* assertServing("resets during a slow route")
      }))

    it.effect("a reset while the 101 is written, and right after it", () =>
      Effect.gen(function*() {
        const { port } = yield* Server
        yield* all(
          Array.from({ length: 10 }, () =>
            timings.map((when) => resetAfter(port, handshakeRequest("/ws", handshakeHeaders), when))).flat()
        )
        yield* assertServing("resets right after the 101")
      }))

    it.effect("a reset during the closing handshake, and right after it", () =>
      Effect.gen(function*() {
        for (let i = 0; i < 10; i++) {
          // the server has sent its close frame; the peer resets instead of answering
          yield* upgradeThenReset((socket) =>
            new Promise<void>((resolve) => {
              let received = Buffer.alloc(0)
              socket.on("data", (chunk: Buffer) => {
                received = Buffer.concat([received, chunk])
                if (serverCloseCode(Buffer.concat([Buffer.from("\r\n\r\n"), received])) === 1000) {
                  socket.resetAndDestroy()
                  resolve()
                }
              })
              socket.write(text("bye"))
            })
          )
          // the peer answers the close frame, then resets
          yield* upgradeThenReset((socket) =>
            new Promise<void>((resolve) => {
              socket.once("data", () => {
                socket.write(closeFrame)
                socket.resetAndDestroy()
                resolve()
              })
              socket.write(text("bye"))
            })
          )
        }
        yield* assertServing("resets during the closing handshake")
      }))

    it.effect("a peer that resets while the server writes to it (EPIPE, ECONNRESET)", () =>
      Effect.gen(function*() {
        for (let i = 0; i < 10; i++) {
          yield* upgradeThenReset((socket) =>
            new Promise<void>((resolve) => {
              socket.write(text("flood"), () => {
                socket.resetAndDestroy()
                resolve()
              })
            })
          )
        }
        yield* assertServing("resets while the server writes")
      }))

    it.effect("socket errors are logged at debug level with the remote address, not thrown", () =>
      Effect.gen(function*() {
        const server = yield* Server
        yield* all(timings.map((when) => resetAfter(server.port, handshakeRequest("/nowhere", handshakeHeaders), when)))
        // the server has the request (and the peer's address) long before it answers onto the reset socket
        yield* resetAfter(server.port, handshakeRequest("/late-auth", handshakeHeaders), "after 100 ms")
        yield* Effect.sleep("400 millis")
        yield* assertServing("resets that are logged")
        assert.match(
          server.output(),
          // Effect 4's default logger: the message, then the annotations as one object
          /DEBUG \(#\d+\): effect-websocket: socket error on an upgrade request \{[^}]*remoteAddress: '127\.0\.0\.1'/,
          server.output().slice(-3000)
        )
        assert.notMatch(server.output(), /Unhandled 'error' event/)
      }))

    it.effect("1,000 resets of every kind leave no more heap behind than a small bound", () =>
      Effect.gen(function*() {
        const { port } = yield* Server
        const kinds = everyKindOfReset(port)
        // warm up with as many: code paths compiled, pools and caches filled
        yield* all(Array.from({ length: 1000 }, (_, i) => kinds[i % kinds.length]))
        yield* assertServing("the warm-up")
        const before = yield* heapUsed(port)
        yield* all(Array.from({ length: 1000 }, (_, i) => kinds[i % kinds.length]))
        yield* assertServing("1,000 resets")
        // slow routes still sleeping when their peer left end within their 300 ms
        yield* Effect.sleep("500 millis")
        const after = yield* heapUsed(port)
        // a request fiber kept per reset would be tens of KiB each: tens of MiB for 1,000
        assert.isBelow(after - before, 1024 * 1024, `heap before ${before}, after ${after}`)
      }))
  }
)
