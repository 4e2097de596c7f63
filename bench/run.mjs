// npm run bench [-- --quick]: echo servers as separate processes (server on core 0, client on core 1
// where taskset exists), one load generator per scenario, ratios against raw ws from the same run.
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { dirname, join } from "node:path"

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.argv.includes("--quick")
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0
const pinned = (core, command, args) => (hasTaskset ? ["taskset", ["-c", String(core), command, ...args]] : [command, args])

const servers = [
  { name: "ws", args: [join(here, "servers/ws.mjs")] },
  { name: "effect-websocket", args: ["--import", "tsx", join(here, "servers/effect-websocket.ts")] },
  { name: "@effect/platform", args: ["--import", "tsx", join(here, "servers/platform.ts")] }
]

const scenarios = []
for (const mode of ["ping-pong", "pipelined"]) {
  for (const connections of quick ? [1, 100] : [1, 100, 1000]) {
    for (const size of quick ? [32] : [32, 64 * 1024]) {
      const window = mode === "pipelined" ? Math.max(1, Math.min(16, Math.floor((8 << 20) / (connections * size)))) : 1
      scenarios.push({ mode, connections, size, window, durationMs: quick ? 1500 : 5000, warmupMs: quick ? 500 : 1500 })
    }
  }
}

const start = (server) =>
  new Promise((resolve, reject) => {
    const [command, args] = pinned(0, process.execPath, server.args)
    const child = spawn(command, args, { cwd: join(here, ".."), stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
      const match = /PORT (\d+)/.exec(output)
      if (match) resolve({ ...server, child, port: Number(match[1]) })
    })
    child.once("exit", (code) => reject(new Error(`${server.name} exited with ${code}`)))
  })

const load = (port, scenario) =>
  new Promise((resolve, reject) => {
    const [command, args] = pinned(1, process.execPath, [join(here, "client.mjs"), JSON.stringify({ port, ...scenario })])
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), scenario.durationMs + scenario.warmupMs + 60_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`load generator exited with ${code}`))
    })
  })

const running = []
const results = []
try {
  for (const server of servers) running.push(await start(server))
  let done = 0
  for (const scenario of scenarios) {
    const label = `${scenario.mode} ${scenario.connections} conn ${scenario.size} B`
    for (const server of running) {
      process.stderr.write(`\r[${++done}/${scenarios.length * running.length}] ${label}: ${server.name}          `)
      results.push({ server: server.name, ...scenario, ...(await load(server.port, scenario)) })
    }
  }
  process.stderr.write("\n")
} finally {
  for (const server of running) server.child.kill("SIGKILL")
}

const rows = results.map((result) => {
  const reference = results.find((r) =>
    r.server === "ws" && r.mode === result.mode && r.connections === result.connections && r.size === result.size
  )
  return {
    ...result,
    ratio: reference && reference.rate > 0 ? result.rate / reference.rate : null,
    p99Ratio: reference && reference.p99 > 0 ? result.p99 / reference.p99 : null
  }
})
const pad = (value, width) => String(value).padStart(width)
console.log(`\n${pad("scenario", 30)} ${pad("server", 18)} ${pad("msgs/s", 9)} ${pad("p50 µs", 8)} ${pad("p99 µs", 8)} ${pad("x ws", 6)} ${pad("p99 x ws", 9)}`)
for (const row of rows) {
  console.log(
    `${pad(`${row.mode} ${row.connections}c ${row.size}B`, 30)} ${pad(row.server, 18)} ${pad(row.rate, 9)} ${pad(row.p50, 8)} ${pad(row.p99, 8)} ${pad(row.ratio?.toFixed(2) ?? "-", 6)} ${pad(row.p99Ratio?.toFixed(2) ?? "-", 9)}`
  )
}
mkdirSync(join(here, "results"), { recursive: true })
const file = join(here, "results", quick ? "quick.json" : "full.json")
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), quick, taskset: hasTaskset, node: process.version, rows }, null, 2))
console.log(`\nresults written to ${file}${hasTaskset ? "" : " (taskset not found: server and client were not pinned)"}`)
