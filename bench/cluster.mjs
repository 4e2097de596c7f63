// npm run bench:cluster [-- --quick]: 50,000 idle connections with heartbeats on, held by WORKERS
// effect-websocket servers in a Node cluster (one port) and opened by several client processes (each
// under the 20,000 open files a process may have here, each from its own 127.0.0.x address). The
// connections are held over several heartbeats, then every one echoes a message. Loopback only;
// bounded in time.
import { fork, spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { builtEnv } from "./built.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.argv.includes("--quick")
const total = quick ? 2_000 : 50_000
const workers = quick ? 2 : 4
const clients = quick ? 2 : 4
const heartbeat = quick ? 1_000 : 10_000
const hold = quick ? 3_500 : 35_000 // three heartbeats: each connection pinged, and answering, three times

const deadline = setTimeout(() => {
  console.error("bench:cluster: did not finish in time")
  stop(1)
}, 10 * 60_000)

const server = spawn(process.execPath, ["--import", "tsx", join(here, "servers/cluster.ts")], {
  cwd: join(here, ".."),
  env: { ...builtEnv(join(here, "..")), WORKERS: String(workers), HEARTBEAT: String(heartbeat) },
  stdio: ["ignore", "pipe", "inherit"]
})
let stats = []
const port = await new Promise((resolve, reject) => {
  let buffered = ""
  server.stdout.on("data", (chunk) => {
    buffered += chunk
    let newline
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line.startsWith("PORT ")) resolve(Number(line.slice(5)))
      if (line.startsWith("STATS ")) stats = JSON.parse(line.slice(6))
    }
  })
  server.once("exit", (code) => reject(new Error(`cluster server exited with ${code}`)))
})

// the workers' memory before any connection, to report what the connections add
while (stats.length < workers) await new Promise((resolve) => setTimeout(resolve, 200))
const baseline = stats

const children = []
function stop(code) {
  clearTimeout(deadline)
  for (const child of children) child.kill("SIGKILL")
  server.kill("SIGTERM")
  process.exit(code)
}
const progress = setInterval(() => {
  const connections = stats.reduce((sum, worker) => sum + worker.connections, 0)
  process.stderr.write(`\r${connections} / ${total} connections held by ${workers} workers          `)
}, 500)

const started = Date.now()
const answers = (child, type) =>
  new Promise((resolve) => {
    const listener = (message) => {
      if (message.type !== type) return
      child.off("message", listener)
      resolve(message)
    }
    child.on("message", listener)
  })
const opened = []
for (let i = 0; i < clients; i++) {
  const count = Math.floor(total / clients) + (i < total % clients ? 1 : 0)
  const child = fork(join(here, "cluster-client.mjs"), [
    JSON.stringify({ port, count, localAddress: `127.0.0.${20 + i}` })
  ])
  children.push(child)
  opened.push(answers(child, "open"))
}
const open = await Promise.all(opened)
const connectSeconds = (Date.now() - started) / 1000
await new Promise((resolve) => setTimeout(resolve, hold))
const checked = await Promise.all(children.map((child) => {
  const answer = answers(child, "checked")
  child.send({ type: "check" })
  return answer
}))
await new Promise((resolve) => setTimeout(resolve, 1_500)) // a fresh STATS line
clearInterval(progress)
process.stderr.write("\n")

const sum = (values) => values.reduce((a, b) => a + b, 0)
const result = {
  date: new Date().toISOString(),
  quick,
  node: process.version,
  target: total,
  workers,
  clients,
  heartbeatMs: heartbeat,
  heldMs: hold,
  connectSeconds,
  opened: sum(open.map((o) => o.open)),
  failed: sum(open.map((o) => o.failed)),
  openAfterHeartbeats: sum(checked.map((c) => c.open)),
  closedEarly: sum(checked.map((c) => c.closedEarly)),
  echoed: sum(checked.map((c) => c.echoed)),
  minPingsPerConnection: Math.min(...checked.map((c) => c.minPings)),
  perWorker: stats.map((worker, i) => ({
    ...worker,
    heapPerConnection: (worker.heapUsed - baseline[i].heapUsed) / Math.max(1, worker.connections),
    rssPerConnection: (worker.rss - baseline[i].rss) / Math.max(1, worker.connections)
  }))
}
const kib = (bytes) => (bytes / 1024).toFixed(1)
console.log(
  `${result.opened} of ${total} connections opened in ${connectSeconds.toFixed(1)} s (${result.failed} failed)`
)
console.log(
  `after ${hold / 1000} s with a ${
    heartbeat / 1000
  } s heartbeat: ${result.openAfterHeartbeats} open, ${result.closedEarly} closed early, every connection pinged at least ${result.minPingsPerConnection} times`
)
console.log(`echo check: ${result.echoed} of ${result.opened} answered`)
for (const [i, worker] of result.perWorker.entries()) {
  console.log(
    `worker ${i + 1}: ${worker.connections} connections, ${kib(worker.heapPerConnection)} KiB heap and ${
      kib(worker.rssPerConnection)
    } KiB RSS per connection (not GC'd first: an upper bound)`
  )
}
mkdirSync(join(here, "results"), { recursive: true })
writeFileSync(join(here, "results", quick ? "cluster-quick.json" : "cluster.json"), JSON.stringify(result, null, 2))
const ok = result.opened === total && result.openAfterHeartbeats === total && result.echoed === total &&
  result.minPingsPerConnection >= 1
console.log(ok ? "cluster: every connection held and answered" : "cluster: NOT every connection held and answered")
stop(ok ? 0 : 1)
