// npm run bench:memory [-- --quick] [-- --counts 10000] [-- --baseline DIR]: server memory per idle connection (heap and RSS after a forced
// GC), against raw ws in the same run. Connections are raw sockets that complete the handshake and
// then stay silent (heartbeats on, answered by nobody within the run's few seconds).
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { baselineServers } from "./baseline.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.argv.includes("--quick")
const countsFlag = process.argv.indexOf("--counts")
const counts = countsFlag > 0
  ? process.argv[countsFlag + 1].split(",").map(Number)
  : quick
  ? [1000]
  : [1000, 10000, 19000]
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0

const servers = [
  { name: "ws", args: [join(here, "servers/ws.mjs")] },
  { name: "effect-websocket", args: ["--import", "tsx", join(here, "servers/effect-websocket.ts")] },
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

servers.push(...baselineServers())

const start = (server) =>
  new Promise((resolve, reject) => {
    const args = ["--expose-gc", ...server.args]
    const child = hasTaskset
      ? spawn("taskset", ["-c", "0", process.execPath, ...args], {
        cwd: server.cwd ?? join(here, ".."),
        stdio: ["ignore", "pipe", "inherit"]
      })
      : spawn(process.execPath, args, { cwd: server.cwd ?? join(here, ".."), stdio: ["ignore", "pipe", "inherit"] })
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
    socket.once("data", () => resolve(socket))
    socket.once("error", reject)
  })

const rows = []
for (const server of servers) {
  for (const count of counts) {
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
      rows.push({
        server: server.name,
        count,
        heapPerConnection: (after.heapUsed - before.heapUsed) / count,
        rssPerConnection: (after.rss - before.rss) / count
      })
      process.stderr.write(`\r${server.name} ${count} idle connections measured          `)
      for (const socket of sockets) socket.destroy()
    } finally {
      child.kill("SIGKILL")
    }
  }
}
process.stderr.write("\n")
const pad = (value, width) => String(value).padStart(width)
console.log(
  `${pad("server", 18)} ${pad("conns", 6)} ${pad("heap/conn KiB", 14)} ${pad("rss/conn KiB", 13)} ${
    pad("heap x ws", 10)
  }`
)
for (const row of rows) {
  const ws = rows.find((r) => r.server === "ws" && r.count === row.count)
  console.log(
    `${pad(row.server, 18)} ${pad(row.count, 6)} ${pad((row.heapPerConnection / 1024).toFixed(1), 14)} ${
      pad((row.rssPerConnection / 1024).toFixed(1), 13)
    } ${pad((row.heapPerConnection / ws.heapPerConnection).toFixed(2), 10)}`
  )
}
mkdirSync(join(here, "results"), { recursive: true })
const file = join(here, "results", quick ? "memory-quick.json" : "memory.json")
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), quick, node: process.version, rows }, null, 2))
console.log(`\nresults written to ${file}`)
