// `npm run start:cluster`: the echo chat and the chat rooms on every core. Node's `cluster` module
// runs one server per worker process, all on the same port; the primary only hands connections out.
// Each worker runs examples/server.ts unchanged: connection limits, heartbeats and graceful shutdown
// are per worker. Chat rooms span the workers when REDIS_URL is set (`REDIS_URL=redis://127.0.0.1:6379
// npm run start:cluster`): each worker's broadcast then goes through Redis.
import cluster from "node:cluster"
import { availableParallelism } from "node:os"

const signals = ["SIGINT", "SIGTERM"] as const

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS ?? availableParallelism())
  for (let i = 0; i < workers; i++) cluster.fork()
  // Ctrl-C reaches every process of the terminal's group, `kill` only this one: pass it on, then
  // leave once every worker has drained its connections and exited
  for (const signal of signals) {
    process.on(signal, () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM")
    })
  }
  cluster.on("exit", () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
  })
} else {
  // the first signal starts the worker's graceful shutdown (NodeRuntime.runMain); a second one, from
  // the primary passing Ctrl-C on, must not kill it halfway through
  for (const signal of signals) process.on(signal, () => {})
  await import("./server.js")
}
