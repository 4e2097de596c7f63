// `npm run start:cluster`: the unchanged library in Node cluster workers sharing one port.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { openWs } from "../support/client.js"
import { startProgram } from "../support/program.js"

const workers = 2

/** In its own process group, as from a terminal, so that Ctrl-C can go to the whole group. */
const startCluster = startProgram("examples/cluster.ts", {
  env: { PORT: "0", WORKERS: String(workers) },
  group: true,
  // every worker prints its URL once it listens
  ready: (output) => {
    const ports = [...output.matchAll(/ws:\/\/localhost:(\d+)\/chat\?user=/g)].map((match) => match[1])
    return ports.length === workers ? ports : undefined
  },
  readySeconds: 40
})

/** Waits until every worker listens; they share one port. */
const urlOf = (example: Effect.Success<typeof startCluster>) =>
  Effect.map(example.ready, (ports) => {
    assert.strictEqual(new Set(ports).size, 1, "the workers share one port")
    return `ws://127.0.0.1:${ports[0]}/chat`
  })

const connectAll = (url: string) =>
  Effect.forEach(Array.from({ length: 20 }, (_, i) => `user${i}`), (user) => openWs(`${url}?user=${user}`), {
    concurrency: 5
  })

describe("npm run start:cluster (examples/cluster.ts)", () => {
  it.live(
    "serves from every worker on one port, and a SIGTERM to the primary drains them all",
    () =>
      Effect.gen(function*() {
        const example = yield* startCluster
        const url = yield* urlOf(example)
        const clients = yield* connectAll(url)
        for (const [i, client] of clients.entries()) {
          client.ws.send(`hello ${i}`)
          assert.strictEqual(yield* client.next, `user${i}: hello ${i}`)
        }
        example.child.kill("SIGTERM")
        for (const client of clients) {
          assert.strictEqual((yield* client.closed).code, 1001, "every worker tells its clients it is going away")
        }
        // the primary's own exit (examples/cluster.ts: process.exit(0) once every worker is gone); the
        // workers, under Effect 4's NodeRuntime.runMain, end with 130 on the signal, which it does not pass on
        assert.strictEqual(yield* example.exited, 0, example.output())
      }),
    90_000
  )

  it.live("Ctrl-C (SIGINT to every process of the group) drains every worker too", () =>
    Effect.gen(function*() {
      const example = yield* startCluster
      const clients = yield* connectAll(yield* urlOf(example))
      // the workers get the terminal's SIGINT and then the primary's SIGTERM: the second must not kill them
      process.kill(-example.child.pid!, "SIGINT")
      for (const client of clients) {
        assert.strictEqual((yield* client.closed).code, 1001, "every worker tells its clients it is going away")
      }
      assert.strictEqual(yield* example.exited, 0, example.output())
    }), 90_000)
})
