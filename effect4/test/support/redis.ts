/**
 * A real `redis-server` (Debian's binary, installed by `.ci/run`) on a free loopback port, for as long
 * as the surrounding scope: no persistence, stopped at the end. `kill` and `restart` stop it hard and
 * bring it back on the same port, to test what clients do meanwhile.
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Kills the server at once (SIGKILL): clients see the connection drop. */
  readonly kill: Effect.Effect<void>
  /** Starts it again on the same port. */
  readonly restart: Effect.Effect<void>
  /** Stops the process (SIGSTOP) without closing its connections: commands get no reply until `resume`. */
  readonly pause: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
}

const freePort = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const start = (port: number) =>
  Effect.callback<ChildProcess, Error>((resume) => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      resume(Effect.fail(new Error(`redis-server did not start: ${output}`)))
    }, 10_000)
    child.stdout!.on("data", (chunk) => {
      output += chunk
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer)
        resume(Effect.succeed(child))
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      resume(Effect.fail(new Error(`redis-server exited with ${code}: ${output}`)))
    })
  })

const stop = (child: ChildProcess, signal: NodeJS.Signals) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill(signal)
  })

export const redisServer: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.gen(function*() {
  const port = yield* freePort
  let child = yield* Effect.orDie(start(port))
  // SIGKILL ends a stopped process too
  yield* Effect.addFinalizer(() => stop(child, "SIGKILL"))
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: Effect.suspend(() => stop(child, "SIGKILL")),
    restart: Effect.orDie(Effect.map(start(port), (started) => {
      child = started
    })),
    pause: Effect.sync(() => {
      child.kill("SIGSTOP")
    }),
    resume: Effect.sync(() => {
      child.kill("SIGCONT")
    })
  }
})
