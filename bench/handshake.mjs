// npm run bench:handshake [-- --quick] [-- --repeat N] [-- --baseline DIR] [-- --effect4] [-- --servers "ws,..."]: new
// connections per second. --effect4 adds the Effect 4 line (bench/effect4.mjs: its app server and floor, and ws, on
// Node 22), its × ws against ws on Node 22; --servers keeps some servers only (and their references). Each cycle opens a TCP
// connection, does the WebSocket handshake, sends one 32-byte message, waits for its echo, sends a
// close frame and waits for the server to close: what a reconnecting client costs the server,
// including `onInit` and the route behind `HttpRouter`. 50 cycles run at a time, from 127.0.0.1-8 in
// turn (ephemeral ports), for a fixed time; each server is its own process on core 0 and the client on
// core 1 where taskset exists, ratios against raw ws in the same run. Loopback only, bounded in time.
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { baselineServers } from "./baseline.mjs"
import { builtEnv } from "./built.mjs"
import { APP4, effect4Servers, referenceOf, selectServers, targets, verdict, WS_NODE22 } from "./effect4.mjs"

const here = dirname(fileURLToPath(import.meta.url))

const handshake = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
// masked with a zero key, which RFC 6455 allows: the payload goes as it is
const frame = (opcode, payload) =>
  Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload])
const message = frame(0x1, Buffer.alloc(32, 0x61))
const close = frame(0x8, Buffer.from([0x03, 0xe8]))

/** One cycle; resolves true when it completed, false when something went wrong. */
const cycle = (port, localAddress) =>
  new Promise((resolve) => {
    const socket = Net.connect({ port, host: "127.0.0.1", localAddress }, () => socket.write(handshake))
    let received = Buffer.alloc(0)
    let stage = "handshake"
    const timer = setTimeout(() => socket.destroy(), 10_000)
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk])
      if (stage === "handshake") {
        const end = received.indexOf("\r\n\r\n")
        if (end < 0) return
        if (!received.subarray(0, 12).toString().includes("101")) return socket.destroy()
        received = received.subarray(end + 4)
        stage = "echo"
        socket.write(message)
      }
      if (stage === "echo" && received.length >= 34) {
        stage = "closing"
        socket.write(close)
      }
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      resolve(stage === "closing")
    })
  })

const client = async ({ port, durationMs, warmupMs, concurrency }) => {
  let opened = 0
  let cycles = 0
  let done = 0
  let failed = 0
  let measuring = false
  const stopAt = Date.now() + warmupMs + durationMs
  setTimeout(() => {
    measuring = true
    done = 0
    failed = 0
  }, warmupMs)
  const worker = async () => {
    while (Date.now() < stopAt) {
      const ok = await cycle(port, `127.0.0.${1 + (opened++ % 8)}`)
      cycles++
      if (!measuring) continue
      if (ok) done++
      else failed++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  console.log(JSON.stringify({ rate: Math.round(done / (durationMs / 1000)), failed, cycles }))
}

if (process.argv[2] === "--client") {
  await client(JSON.parse(process.argv[3]))
  process.exit(0)
}

const quick = process.argv.includes("--quick")
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0
const pinned = (
  core,
  args,
  node = process.execPath
) => (hasTaskset ? ["taskset", ["-c", String(core), node, ...args]] : [node, args])
const allServers = [
  { name: "ws", args: [join(here, "servers/ws.mjs")] },
  { name: "Effect floor", args: ["--import", "tsx", join(here, "servers/effect-floor.ts")] },
  { name: "effect-websocket", args: ["--import", "tsx", join(here, "servers/effect-websocket.ts")] },
  { name: "effect-websocket app", args: ["--import", "tsx", join(here, "servers/effect-websocket-app.ts")] },
  { name: "@effect/platform", args: ["--import", "tsx", join(here, "servers/platform.ts")] }
]
allServers.push(...baselineServers().filter((server) => server.json !== true), ...effect4Servers())
const servers = selectServers(allServers)
// the built package is checked now, before the first server starts (bench/built.mjs)
builtEnv(join(here, ".."))
const settings = { durationMs: quick ? 1500 : 5000, warmupMs: quick ? 500 : 1500, concurrency: 50 }

const run = (command, args, onLine, cwd = join(here, ".."), env = process.env) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
      onLine?.(output, child)
    })
    child.once("exit", (code) => (code === 0 || onLine ? resolve(output) : reject(new Error(`exited with ${code}`))))
  })

// runs on a shared machine are noisy: each server runs `repeat` times, the servers taking turns in a
// rotating order, and the table shows medians
const repeatFlag = process.argv.indexOf("--repeat")
const repeat = repeatFlag > 0 ? Math.max(1, Number(process.argv[repeatFlag + 1])) : quick ? 1 : 3
const runs = new Map(servers.map((server) => [server.name, []]))
for (let round = 0; round < repeat; round++) {
  const order = servers.map((_, i) => servers[(i + round) % servers.length])
  for (const server of order) {
    const [command, args] = pinned(0, server.args, server.node)
    let child
    const port = await new Promise((resolve, reject) => {
      run(
        command,
        args,
        (output, started) => {
          child = started
          const match = /PORT (\d+)/.exec(output)
          if (match) resolve(Number(match[1]))
        },
        server.cwd,
        server.env ?? builtEnv(join(here, ".."))
      ).then(() => reject(new Error(`${server.name} exited before it listened`)), reject)
    })
    try {
      const [clientCommand, clientArgs] = pinned(1, [
        fileURLToPath(import.meta.url),
        "--client",
        JSON.stringify({ port, ...settings })
      ])
      const before = cpuOf(child.pid)
      const result = JSON.parse(await run(clientCommand, clientArgs))
      const after = cpuOf(child.pid)
      // the server's CPU (user + system, warm-up included) per cycle the client completed
      if (before !== undefined && after !== undefined) result.cpuPerCycle = ((after - before) * 1e6) / result.cycles
      runs.get(server.name).push(result)
      process.stderr.write(`\r[round ${round + 1}/${repeat}] ${server.name}: ${result.rate} connections/s          `)
    } finally {
      child.kill("SIGKILL")
    }
  }
}
/** A process's CPU time so far (user + system) in seconds, from /proc where it exists. */
function cpuOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime and stime, in USER_HZ (100 on Linux)
  } catch {
    return undefined
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const rows = servers.map((server) => {
  const results = runs.get(server.name)
  return {
    server: server.name,
    reference: referenceOf(servers, server.name),
    rate: median(results.map((result) => result.rate)),
    failed: results.reduce((sum, result) => sum + result.failed, 0),
    rates: results.map((result) => result.rate),
    cpuPerCycle: median(results.map((result) => result.cpuPerCycle ?? NaN))
  }
})
process.stderr.write("\n")
const rateOf = (name) => rows.find((row) => row.server === name)?.rate
for (const row of rows) {
  row.ratio = rateOf(row.reference) > 0 ? row.rate / rateOf(row.reference) : null
  if (row.reference !== "ws") row.ratioNode20 = rateOf("ws") > 0 ? row.rate / rateOf("ws") : null
}
const pad = (value, width) => String(value).padStart(width)
console.log(`medians of ${repeat} runs per server`)
if (servers.some((server) => server.effect4)) console.log(`the Effect 4 servers' x ws is against ${WS_NODE22}`)
console.log(
  `${pad("server", 22)} ${pad("conns/s", 9)} ${pad("failed", 7)} ${pad("x ws", 6)} ${pad("CPU µs/cycle", 12)}  runs`
)
for (const row of rows) {
  console.log(
    `${pad(row.server, 22)} ${pad(row.rate, 9)} ${pad(row.failed, 7)} ${pad(row.ratio?.toFixed(2) ?? "-", 6)} ${
      pad(Number.isFinite(row.cpuPerCycle) ? Math.round(row.cpuPerCycle) : "-", 12)
    }  ${row.rates.join(" ")}`
  )
}
const app4 = rows.find((row) => row.server === APP4)
if (app4) {
  console.log(
    `\nEffect 4 target: ${APP4} ${app4.rate} connections/s, x ws ${app4.ratio?.toFixed(2) ?? "-"} (Node 22) ${
      verdict(targets.handshake, app4.ratio)
    }, ${app4.ratioNode20?.toFixed(2) ?? "-"} (Node 20)`
  )
}
mkdirSync(join(here, "results"), { recursive: true })
const file = join(here, "results", quick ? "handshake-quick.json" : "handshake.json")
writeFileSync(
  file,
  JSON.stringify({ date: new Date().toISOString(), quick, repeat, node: process.version, ...settings, rows }, null, 2)
)
console.log(`\nresults written to ${file}`)
