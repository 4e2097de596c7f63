// bench/cluster.mjs's server: WORKERS cluster workers share one port, each serving the effect-websocket
// echo with heartbeats on (HEARTBEAT ms interval and timeout). Every second each worker reports its
// open connections and memory; the primary prints the totals as a `STATS {json}` line.
import cluster from "node:cluster"

const workers = Number(process.env.WORKERS ?? 4)
const heartbeat = Number(process.env.HEARTBEAT ?? 10_000)

interface Report {
  readonly connections: number
  readonly heapUsed: number
  readonly rss: number
}

if (cluster.isPrimary) {
  const reports = new Map<number, Report>()
  let printed = false
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork()
    worker.on("message", (report: Report) => {
      reports.set(worker.id, report)
      if (reports.size === workers) console.log(`STATS ${JSON.stringify([...reports.values()])}`)
    })
  }
  cluster.on("listening", (_, address) => {
    if (!printed) console.log(`PORT ${address.port}`)
    printed = true
  })
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL")
      process.exit(0)
    })
  }
} else {
  const { HttpRouter, HttpServer } = await import("@effect/platform")
  const { NodeRuntime } = await import("@effect/platform-node")
  const { Effect, Layer } = await import("effect")
  const { createServer } = await import("node:http")
  const { Action, Connection, NodeServer, Upgrade } = await import("effect-websocket")
  let connections = 0
  const echo = Upgrade.upgradeWebSocket({
    onInit: () => Effect.sync(() => ++connections).pipe(Effect.as(Upgrade.initial(null))),
    onMessage: (state: null, message, connection) =>
      message._tag === "TextMessage"
        ? Effect.as(Connection.sendText(connection, message.text), Action.continueConnection(state))
        : Effect.succeed(Action.continueConnection(state)),
    onClose: () => Effect.sync(() => connections--)
  }, { heartbeat: { interval: heartbeat, timeout: heartbeat } })
  setInterval(() => {
    const { heapUsed, rss } = process.memoryUsage()
    process.send!({ connections, heapUsed, rss })
  }, 1000)
  HttpServer.serve(HttpRouter.empty.pipe(HttpRouter.get("/", echo))).pipe(
    Layer.provide(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1", backlog: 4096 })),
    Layer.launch,
    NodeRuntime.runMain
  )
}
