// npm run bench:memory [-- --quick] [-- --counts 10000] [-- --baseline DIR] [-- --effect4] [-- --servers "ws,..."]: server
// memory per idle connection (heap and RSS after a forced GC), against raw ws in the same run. --effect4 adds the Effect 4
// line (bench/effect4.mjs: its app server and floor, and ws, on Node 22), its heap × ws against ws on Node 22;
// --servers keeps some servers only (and their references). Connections are raw sockets that complete the handshake and
// then stay silent (heartbeats on, answered by nobody within the run's few seconds).
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { baselineServers } from "./baseline.mjs"
import { builtEnv } from "./built.mjs"
import { APP4, effect4Servers, referenceOf, selectServers, targets, verdict, WS_NODE22 } from "./effect4.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.argv.includes("--quick")
const countsFlag = process.argv.indexOf("--counts")
const counts = countsFlag > 0
  ? process.argv[countsFlag + 1].split(",").map(Number)
  : quick
  ? [1000]
  : [1000, 10000, 19000]
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0

const allServers = [
  { name: "ws", args: [join(here, "servers/ws.mjs")] },
  { name: "effect-websocket", args: ["--import", "tsx", join(here, "servers/effect-websocket.ts")] },
  { name: "effect-websocket app", args: ["--import", "tsx", join(here, "servers/effect-websocket-app.ts")] },
  { name: "Effect floor", args: ["--import", "tsx", join(here, "servers/effect-floor.ts")] },
  { name: "@effect/platform", args: ["--import", "tsx", join(here, "servers/platform.ts")] },
  { name: "route floor", args: ["--import", "tsx", join(here, "servers/route-floor.ts")] }
  // EXTRA=file.ts,... adds servers from bench/servers, for experiments
].concat(
  (process.env.EXTRA ?? "").split(",").filter(Boolean).map((f) => ({
    name: f,
    args: ["--import", "tsx", join(here, "servers", f)]
  }))
)

allServers.push(...baselineServers().filter((server) => server.json !== true), ...effect4Servers())
const servers = selectServers(allServers)
// the built package is checked now, before the first server starts (bench/built.mjs)
builtEnv(join(here, ".."))

const start = (server) =>
  new Promise((resolve, reject) => {
    const args = ["--expose-gc", ...server.args]
    const node = server.node ?? process.execPath
    const cwd = server.cwd ?? join(here, "..")
    const env = server.env ?? builtEnv(join(here, ".."))
    const child = hasTaskset
      ? spawn("taskset", ["-c", "0", node, ...args], { cwd, env, stdio: ["ignore", "pipe", "inherit"] })
      : spawn(node, args, { cwd, env, stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
      const match = /PORT (\d+)/.exec(output)
      if (match) resolve({ child, port: Number(match[1]) })
    })
    child.once("exit", (code) => reject(new Error(`${server.name} exited with ${code}`)))
  })

const memory = async (port) => (await fetch(`http://127.0.0.1:${port}/memory`)).json()

const handshake = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

// connections come from 127.0.0.1-8 in turn: one source address has about 28,000 ephemeral ports,
// and the ports of earlier runs stay in TIME_WAIT for a minute
let opened = 0
const idle = (port) =>
  new Promise((resolve, reject) => {
    const localAddress = `127.0.0.${1 + (opened++ % 8)}`
    const socket = Net.connect({ port, host: "127.0.0.1", localAddress }, () => socket.write(handshake))
    // a refused handshake (an error page) would be measured as a connection: only a 101 counts
    socket.once("data", (data) =>
      data.subarray(0, 12).toString().includes("101")
        ? resolve(socket)
        : reject(new Error(`handshake refused: ${data.toString().split("\r\n")[0]}`)))
    socket.once("error", reject)
  })

// --repeat N: each server and count N times, the servers taking turns in a rotating order; the table shows medians
const repeatFlag = process.argv.indexOf("--repeat")
const repeat = repeatFlag > 0 ? Math.max(1, Number(process.argv[repeatFlag + 1])) : 1
const measured = []
for (let round = 0; round < repeat; round++) {
  for (const server of servers.map((_, i) => servers[(i + round) % servers.length])) {
    for (const count of counts) measured.push(await measure(server, count))
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const rows = servers.flatMap((server) =>
  counts.map((count) => {
    const runs = measured.filter((run) => run.server === server.name && run.count === count)
    return {
      server: server.name,
      count,
      reference: referenceOf(servers, server.name),
      heapPerConnection: median(runs.map((run) => run.heapPerConnection)),
      rssPerConnection: median(runs.map((run) => run.rssPerConnection)),
      runs: runs.map(({ heapPerConnection, rssPerConnection }) => ({ heapPerConnection, rssPerConnection }))
    }
  })
)

async function measure(server, count) {
  const { child, port } = await start(server)
  try {
    await new Promise((resolve) => setTimeout(resolve, 500))
    const before = await memory(port)
    const sockets = []
    for (let i = 0; i < count; i += 200) {
      const batch = []
      for (let j = i; j < Math.min(count, i + 200); j++) batch.push(idle(port))
      sockets.push(...(await Promise.all(batch)))
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const after = await memory(port)
    process.stderr.write(`\r${server.name} ${count} idle connections measured          `)
    for (const socket of sockets) socket.destroy()
    return {
      server: server.name,
      count,
      heapPerConnection: (after.heapUsed - before.heapUsed) / count,
      rssPerConnection: (after.rss - before.rss) / count
    }
  } finally {
    child.kill("SIGKILL")
  }
}
process.stderr.write("\n")
const pad = (value, width) => String(value).padStart(width)
const kib = (bytes) => (bytes / 1024).toFixed(1)
if (repeat > 1) console.log(`medians of ${repeat} runs per server and count`)
if (servers.some((server) => server.effect4)) console.log(`the Effect 4 servers' heap x ws is against ${WS_NODE22}`)
console.log(
  `${pad("server", 22)} ${pad("conns", 6)} ${pad("heap/conn KiB", 14)} ${pad("rss/conn KiB", 13)} ${
    pad("heap x ws", 10)
  }${repeat > 1 ? "  heap/conn KiB of each run" : ""}`
)
const heapRatio = (row, reference) => {
  const ws = rows.find((r) => r.server === reference && r.count === row.count)
  return ws ? row.heapPerConnection / ws.heapPerConnection : null
}
for (const row of rows) {
  row.heapRatio = heapRatio(row, row.reference)
  if (row.reference !== "ws") row.heapRatioNode20 = heapRatio(row, "ws")
  console.log(
    `${pad(row.server, 22)} ${pad(row.count, 6)} ${pad(kib(row.heapPerConnection), 14)} ${
      pad(kib(row.rssPerConnection), 13)
    } ${pad(row.heapRatio?.toFixed(2) ?? "-", 10)}${
      repeat > 1 ? `  ${row.runs.map((run) => kib(run.heapPerConnection)).join(" ")}` : ""
    }`
  )
}
for (const row of rows.filter((row) => row.server === APP4)) {
  console.log(
    `\nEffect 4 target at ${row.count}: ${APP4} ${kib(row.heapPerConnection)} KiB per idle connection, x ws ${
      row.heapRatio?.toFixed(2) ?? "-"
    } (Node 22) ${verdict(targets.memory, row.heapRatio)}, ${row.heapRatioNode20?.toFixed(2) ?? "-"} (Node 20)`
  )
}
mkdirSync(join(here, "results"), { recursive: true })
const file = join(here, "results", quick ? "memory-quick.json" : "memory.json")
writeFileSync(
  file,
  JSON.stringify({ date: new Date().toISOString(), quick, repeat, node: process.version, rows }, null, 2)
)
console.log(`\nresults written to ${file}`)
