// Graceful shutdown of a real server process (test/fixtures/shutdown-server.ts) on SIGTERM: every
// open connection is told 1001, onClose runs for each with initiator "shutdown", peers that never
// answer the close frame are dropped at closeTimeout, and new upgrades are refused meanwhile.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Queue } from "effect"
import { spawn } from "node:child_process"
import type { ClientRequest } from "node:http"
import type { Socket } from "node:net"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"
import { handshakeHeaders, handshakeRequest, rawConnect, serverCloseCode, statusOf, within } from "../support/server.js"

/** The Effect 4 package's folder (`effect4/`): the fixtures' paths are relative to it. */
const root = fileURLToPath(new URL("../..", import.meta.url))

/**
 * The exit code of a program that `NodeRuntime.runMain` ran to its end after SIGTERM: Effect 4 reports
 * the interruption with 130 (Effect 3 exited with 0). A crash is 1.
 */
const interrupted = 130

/** Margin over closeTimeout for the process to finish shutting down and exit. */
const marginMs = 3000

interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** performance.now() when the process exited. */
  readonly at: number
}

const startServer = (closeTimeoutMs: number) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, ["--import", "tsx", "test/fixtures/shutdown-server.ts"], {
          cwd: root,
          env: { ...process.env, PORT: "0", CLOSE_TIMEOUT_MS: String(closeTimeoutMs) },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let output = ""
    let exitedAt = 0
    const port = yield* Deferred.make<number>()
    const exited = yield* Deferred.make<Exited>()
    const collect = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /^listening (\d+)$/m.exec(output)
      if (match) Deferred.doneUnsafe(port, Exit.succeed(Number(match[1])))
    }
    child.stdout!.on("data", collect)
    child.stderr!.on("data", collect)
    child.on("exit", () => {
      exitedAt = performance.now()
    })
    // "close" comes after "exit" once stdout and stderr are drained, so the output is complete
    child.on("close", (code, signal) => Deferred.doneUnsafe(exited, Exit.succeed({ code, signal, at: exitedAt })))
    return {
      child,
      port: within("the server prints its port", Deferred.await(port), 30),
      exited: within("the server exits", Deferred.await(exited), 15),
      /** The exit, or undefined if the process is still running after `ms` milliseconds. */
      exitedWithin: (ms: number) =>
        Deferred.await(exited).pipe(
          Effect.map((exit): Exited | undefined => exit),
          Effect.timeoutOrElse({ duration: Duration.millis(ms), orElse: () => Effect.succeed(undefined) })
        ),
      output: () => output,
      /** The onClose counts per initiator the server printed as it exited. */
      onCloseCounts: (): unknown => {
        const match = /^onClose (.*)$/m.exec(output)
        return match ? JSON.parse(match[1]) : `no onClose line in the output:\n${output}`
      }
    }
  })

interface Client {
  readonly ws: WebSocket
  readonly next: Effect.Effect<string>
  /** The close code the client saw, or "no close" if none came within 10 seconds. */
  readonly closeCode: Effect.Effect<number | "no close">
}

/** Opens a `ws` client; `all` collects every socket so that a finaliser can terminate them. */
const openClient = (url: string, all: Array<WebSocket>) =>
  within(
    "client opens",
    Effect.callback<Client>((resume) => {
      const ws = new WebSocket(url)
      all.push(ws)
      const messages = Effect.runSync(Queue.unbounded<string>())
      const closed = Deferred.makeUnsafe<number>()
      let settled = false
      ws.on("message", (data: Buffer) => Queue.offerUnsafe(messages, data.toString()))
      ws.on("close", (code: number) => {
        Deferred.doneUnsafe(closed, Exit.succeed(code))
        if (!settled) {
          settled = true
          resume(Effect.die(new Error(`the client closed with ${code} before it opened`)))
        }
      })
      ws.on("error", () => {})
      ws.once("open", () => {
        if (settled) return
        settled = true
        resume(Effect.succeed({
          ws,
          next: within("echo", Queue.take(messages)),
          closeCode: Deferred.await(closed).pipe(
            Effect.map((code): number | "no close" => code),
            Effect.timeoutOrElse({ duration: Duration.seconds(10), orElse: () => Effect.succeed("no close" as const) })
          )
        }))
      })
    }),
    15
  )

const terminateAll = (all: Array<WebSocket>) =>
  Effect.addFinalizer(() => Effect.sync(() => all.forEach((ws) => ws.terminate())))

/** How many clients saw each close code. */
const histogram = (codes: ReadonlyArray<number | string>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const code of codes) counts[String(code)] = (counts[String(code)] ?? 0) + 1
  return counts
}

/** A raw TCP client that completes the handshake and then never sends anything, not even a close. */
const silentPeer = (port: number) =>
  Effect.gen(function*() {
    const raw = yield* rawConnect(port)
    yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
    const response = yield* raw.readUntil((received) => received.includes("\r\n\r\n"))
    assert.strictEqual(statusOf(response), 101, response.toString("latin1"))
    return raw
  })

describe("graceful shutdown on SIGTERM (test/fixtures/shutdown-server.ts)", () => {
  it.live(
    "SIGTERM with 1,000 open connections: every client gets 1001, onClose runs 1,000 times, the process exits within the drain deadline",
    () =>
      Effect.gen(function*() {
        const closeTimeoutMs = 2000
        const connections = 1000
        const server = yield* startServer(closeTimeoutMs)
        const port = yield* server.port
        const url = `ws://127.0.0.1:${port}/ws`
        const sockets: Array<WebSocket> = []
        yield* terminateAll(sockets)

        const clients = yield* Effect.forEach(
          Array.from({ length: connections }, (_, i) => i),
          () => openClient(url, sockets),
          { concurrency: 100 }
        )
        assert.strictEqual(clients.length, connections)
        // every connection is served: each echoes one message
        yield* Effect.forEach(clients, (client, i) =>
          Effect.gen(function*() {
            client.ws.send(`hello ${i}`)
            assert.strictEqual(yield* client.next, `hello ${i}`)
          }), { concurrency: 100, discard: true })

        const start = performance.now()
        server.child.kill("SIGTERM")
        const exited = yield* server.exited
        const elapsed = exited.at - start
        const codes = yield* Effect.forEach(clients, (client) => client.closeCode, { concurrency: "unbounded" })

        assert.deepStrictEqual(
          histogram(codes),
          { "1001": connections },
          `close codes the clients saw (code: count), server output:\n${server.output()}`
        )
        assert.deepStrictEqual(server.onCloseCounts(), { shutdown: connections }, server.output())
        assert.strictEqual(exited.code, interrupted, `exit code (signal ${exited.signal}), output:\n${server.output()}`)
        assert.isBelow(
          elapsed,
          closeTimeoutMs + marginMs,
          `the process took ${Math.round(elapsed)} ms to exit after SIGTERM`
        )
      }),
    60_000
  )

  it.live(
    "peers that never answer the close frame are dropped at the deadline, so shutdown does not wait for ws's 30 seconds",
    () =>
      Effect.gen(function*() {
        const closeTimeoutMs = 1000
        const server = yield* startServer(closeTimeoutMs)
        const port = yield* server.port
        const sockets: Array<WebSocket> = []
        yield* terminateAll(sockets)

        const silent = yield* Effect.forEach(Array.from({ length: 20 }), () => silentPeer(port), {
          concurrency: "unbounded"
        })
        const clients = yield* Effect.forEach(
          Array.from({ length: 5 }),
          () => openClient(`ws://127.0.0.1:${port}/ws`, sockets),
          { concurrency: "unbounded" }
        )
        yield* Effect.forEach(clients, (client, i) =>
          Effect.gen(function*() {
            client.ws.send(`hello ${i}`)
            assert.strictEqual(yield* client.next, `hello ${i}`)
          }), { discard: true })

        const start = performance.now()
        server.child.kill("SIGTERM")
        const exited = yield* server.exited
        const elapsed = exited.at - start
        const received = yield* Effect.forEach(silent, (raw) => raw.ended, { concurrency: "unbounded" })
        const codes = yield* Effect.forEach(clients, (client) => client.closeCode, { concurrency: "unbounded" })

        assert.deepStrictEqual(
          histogram(received.map((bytes) => serverCloseCode(bytes) ?? "no close frame")),
          { "1001": silent.length },
          "close frames the silent peers received before the server closed their sockets"
        )
        assert.deepStrictEqual(histogram(codes), { "1001": clients.length }, `close codes of the ws clients`)
        assert.deepStrictEqual(server.onCloseCounts(), { shutdown: silent.length + clients.length }, server.output())
        assert.strictEqual(exited.code, interrupted, `exit code (signal ${exited.signal}), output:\n${server.output()}`)
        assert.isBelow(
          elapsed,
          closeTimeoutMs + marginMs,
          `the process took ${Math.round(elapsed)} ms to exit after SIGTERM (ws alone would wait 30 s)`
        )
      }),
    60_000
  )

  it.live(
    "a handshake sent during the drain and reset at once does not crash the process",
    () =>
      Effect.gen(function*() {
        const closeTimeoutMs = 1500
        const server = yield* startServer(closeTimeoutMs)
        const port = yield* server.port
        // keeps the shutdown going for closeTimeout
        yield* silentPeer(port)
        // connected before the shutdown, so that the server has accepted them when they speak
        const early = yield* Effect.forEach(Array.from({ length: 20 }), () => rawConnect(port), {
          concurrency: "unbounded"
        })

        server.child.kill("SIGTERM")
        yield* Effect.sleep(Duration.millis(200))
        const stillRunning = server.child.exitCode === null && server.child.signalCode === null
        for (const raw of early) {
          raw.socket.write(handshakeRequest("/ws", handshakeHeaders))
          raw.socket.resetAndDestroy()
        }
        const exited = yield* server.exited

        assert.isTrue(stillRunning, "the server was still shutting down when the handshakes were sent")
        assert.notMatch(server.output(), /Unhandled 'error' event/)
        assert.strictEqual(exited.code, interrupted, `exit code (signal ${exited.signal}), output:\n${server.output()}`)
        assert.deepStrictEqual(server.onCloseCounts(), { shutdown: 1 }, server.output())
      }),
    30_000
  )

  it.live("new upgrades are refused during shutdown", () =>
    Effect.gen(function*() {
      const closeTimeoutMs = 2000
      const server = yield* startServer(closeTimeoutMs)
      const port = yield* server.port
      const sockets: Array<WebSocket> = []
      yield* terminateAll(sockets)
      // keeps the shutdown going for closeTimeout
      const silent = yield* silentPeer(port)

      const start = performance.now()
      server.child.kill("SIGTERM")
      yield* Effect.sleep(Duration.millis(200))
      const stillRunning = server.child.exitCode === null && server.child.signalCode === null
      const attemptAt = performance.now()
      let tcpConnected = false
      const outcome = yield* Effect.callback<string>((resume) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
        sockets.push(ws)
        ;(ws as unknown as { readonly _req?: ClientRequest })._req?.once("socket", (socket: Socket) =>
          socket.once("connect", () => {
            tcpConnected = true
          }))
        let settled = false
        const settle = (what: string) => {
          if (settled) {
            return
          }
          settled = true
          resume(Effect.succeed(`${what} after ${Math.round(performance.now() - attemptAt)} ms`))
        }
        ws.once("open", () =>
          settle("opened"))
        ws.once("unexpected-response", (_request, response) => {
          settle(`HTTP ${response.statusCode}`)
          response.resume()
        })
        ws.on("error", (error: Error & { readonly code?: string }) =>
          settle(`error ${error.code ?? error.message}`))
        ws.once("close", (code: number) => settle(`closed ${code}`))
      }).pipe(
        Effect.timeoutOrElse({
          duration: Duration.millis(closeTimeoutMs + marginMs),
          orElse: () =>
            Effect.sync(() =>
              `no answer within ${closeTimeoutMs + marginMs} ms (TCP connection ${
                tcpConnected ? "accepted" : "not accepted"
              })`
            )
        })
      )
      const exited = yield* server.exitedWithin(closeTimeoutMs + marginMs)
      const elapsed = exited === undefined ? undefined : exited.at - start
      const exitReport = exited === undefined
        ? `the process was still running ${Math.round(performance.now() - start)} ms after SIGTERM`
        : `the process exited with ${exited.code} (signal ${exited.signal}) ${Math.round(elapsed!)} ms after SIGTERM`
      const report = `a new upgrade during shutdown: ${outcome}; ${exitReport}; output:\n${server.output()}`

      assert.isTrue(stillRunning, "the server was still shutting down when the new connection was attempted")
      assert.match(outcome, /^(HTTP (?!101)\d+|error |closed )/, report)
      assert.isDefined(exited, report)
      assert.strictEqual(exited!.code, interrupted, report)
      assert.isBelow(elapsed!, closeTimeoutMs + marginMs, report)
      assert.deepStrictEqual(server.onCloseCounts(), { shutdown: 1 }, report)
      yield* silent.ended
    }), 60_000)
})
