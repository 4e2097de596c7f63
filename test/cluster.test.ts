// `npm run start:cluster`: the unchanged library in Node cluster workers sharing one port.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { openWs } from "./support/client.js"
import { within } from "./support/server.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const workers = 2

/** Starts the cluster in its own process group, as a terminal would, so that Ctrl-C can be sent to the group. */
const startCluster = Effect.acquireRelease(
  Effect.gen(function*() {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/cluster.ts"], {
      cwd: root,
      env: { ...process.env, PORT: "0", WORKERS: String(workers) },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    })
    let output = ""
    const url = yield* Deferred.make<string>()
    const exited = yield* Deferred.make<number | null>()
    const collect = (chunk: Buffer) => {
      output += chunk.toString()
      const ports = [...output.matchAll(/ws:\/\/localhost:(\d+)\/chat\?user=/g)].map((match) => match[1])
      // every worker prints its URL once it listens
      if (ports.length === workers) {
        assert.strictEqual(new Set(ports).size, 1, "the workers share one port")
        Deferred.unsafeDone(url, Exit.succeed(`ws://127.0.0.1:${ports[0]}/chat`))
      }
    }
    child.stdout!.on("data", collect)
    child.stderr!.on("data", collect)
    child.on("exit", (code) => Deferred.unsafeDone(exited, Exit.succeed(code)))
    return {
      child,
      url: within("every worker prints its URL", Deferred.await(url), 40),
      exited: within("the cluster exits", Deferred.await(exited), 15),
      output: () => output
    }
  }),
  ({ child }) =>
    Effect.sync(() => {
      // the workers are in the primary's group: take the whole group down
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // already gone
      }
    })
)

const connectAll = (url: string) =>
  Effect.forEach(Array.from({ length: 20 }, (_, i) => `user${i}`), (user) => openWs(`${url}?user=${user}`), {
    concurrency: 5
  })

describe("npm run start:cluster (examples/cluster.ts)", () => {
  it.scopedLive("serves from every worker on one port, and a SIGTERM to the primary drains them all", () =>
    Effect.gen(function*() {
      const example = yield* startCluster
      const url = yield* example.url
      const clients = yield* connectAll(url)
      for (const [i, client] of clients.entries()) {
        client.ws.send(`hello ${i}`)
        assert.strictEqual(yield* client.next, `user${i}: hello ${i}`)
      }
      example.child.kill("SIGTERM")
      for (const client of clients) {
        assert.strictEqual((yield* client.closed).code, 1001, "every worker tells its clients it is going away")
      }
      assert.strictEqual(yield* example.exited, 0, example.output())
    }), 90_000)

  it.scopedLive("Ctrl-C (SIGINT to every process of the group) drains every worker too", () =>
    Effect.gen(function*() {
      const example = yield* startCluster
      const clients = yield* connectAll(yield* example.url)
      // the workers get the terminal's SIGINT and then the primary's SIGTERM: the second must not kill them
      process.kill(-example.child.pid!, "SIGINT")
      for (const client of clients) {
        assert.strictEqual((yield* client.closed).code, 1001, "every worker tells its clients it is going away")
      }
      assert.strictEqual(yield* example.exited, 0, example.output())
    }), 90_000)
})
