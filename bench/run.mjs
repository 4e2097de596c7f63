// npm run bench [-- --quick] [-- --repeat N] [-- --only "ping-pong 100 conn 32 B,pipelined 1000"] [-- --baseline DIR]:
// echo servers as separate processes (server on core 0,
// client on core 1 where taskset exists), one load generator per scenario, ratios against raw ws (and the Effect floor) from
// the same run. Runs on a shared machine are noisy, so each scenario runs `repeat` times (3 in a full
// run, 1 in a quick one), the servers taking turns in a rotating order, and the table shows medians.
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { baselineServers } from "./baseline.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.argv.includes("--quick")
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0
const repeatFlag = process.argv.indexOf("--repeat")
const repeat = repeatFlag > 0 ? Math.max(1, Number(process.argv[repeatFlag + 1])) : quick ? 1 : 3
const pinned = (
  core,
  command,
  args
) => (hasTaskset ? ["taskset", ["-c", String(core), command, ...args]] : [command, args])

const servers = [
  { name: "ws", args: [join(here, "servers/ws.mjs")] },
  { name: "effect-websocket", args: ["--import", "tsx", join(here, "servers/effect-websocket.ts")] },
  // as an app writes it: Effect.gen handlers reading two services from Layers
  { name: "effect-websocket app", args: ["--import", "tsx", join(here, "servers/effect-websocket-app.ts")] },
  { name: "Effect floor", args: ["--import", "tsx", join(here, "servers/effect-floor.ts")] },
  { name: "@effect/platform", args: ["--import", "tsx", join(here, "servers/platform.ts")] },
  // the JSON scenarios' servers: the typed route against a hand-parsed one and raw ws
  { name: "ws JSON", json: true, args: [join(here, "servers/ws-json.mjs")] },
  { name: "hand-parsed JSON", json: true, args: ["--import", "tsx", join(here, "servers/effect-json-hand.ts")] },
  { name: "typed JSON", json: true, args: ["--import", "tsx", join(here, "servers/effect-json-typed.ts")] }
]

servers.push(...baselineServers())

const onlyFlag = process.argv.indexOf("--only")
const only = onlyFlag > 0 ? process.argv[onlyFlag + 1].split(",").map((part) => part.trim()) : undefined
const scenarios = []
for (const mode of ["ping-pong", "pipelined"]) {
  for (const connections of quick ? [1, 100] : [1, 100, 1000]) {
    for (const size of quick ? [32] : [32, 64 * 1024]) {
      const window = mode === "pipelined" ? Math.max(1, Math.min(16, Math.floor((8 << 20) / (connections * size)))) : 1
      const label = `${mode} ${connections} conn ${size} B`
      if (only !== undefined && !only.some((part) => label.startsWith(part))) continue
      scenarios.push({ mode, connections, size, window, durationMs: quick ? 1500 : 5000, warmupMs: quick ? 500 : 1500 })
    }
  }
}
// JSON echo ({"type":"say","text":…} in, {"type":"said","text":…} out): what decoding costs
for (const mode of quick ? ["ping-pong"] : ["ping-pong", "pipelined"]) {
  const label = `json ${mode} 100 conn 32 B`
  if (only !== undefined && !only.some((part) => label.startsWith(part))) continue
  scenarios.push({
    mode,
    json: true,
    connections: 100,
    size: 32,
    window: mode === "pipelined" ? 16 : 1,
    durationMs: quick ? 1500 : 5000,
    warmupMs: quick ? 500 : 1500
  })
}

const start = (server) =>
  new Promise((resolve, reject) => {
    const [command, args] = pinned(0, process.execPath, server.args)
    const child = spawn(command, args, { cwd: server.cwd ?? join(here, ".."), stdio: ["ignore", "pipe", "inherit"] })
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
    const [command, args] = pinned(1, process.execPath, [
      join(here, "client.mjs"),
      JSON.stringify({ port, ...scenario })
    ])
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), scenario.durationMs + scenario.warmupMs + 60_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(JSON.parse(output))
      else reject(new Error(`load generator exited with ${code}`))
    })
  })

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle] : Math.round((sorted[middle - 1] + sorted[middle]) / 2)
}

const running = []
const results = []
try {
  for (const server of servers) running.push(await start(server))
  let done = 0
  const total = scenarios.reduce(
    (sum, scenario) =>
      sum + running.filter((server) => (server.json === true) === (scenario.json === true)).length * repeat,
    0
  )
  for (const scenario of scenarios) {
    const label = `${scenario.json ? "json " : ""}${scenario.mode} ${scenario.connections} conn ${scenario.size} B`
    const serving = running.filter((server) => (server.json === true) === (scenario.json === true))
    const runs = new Map(serving.map((server) => [server.name, []]))
    for (let round = 0; round < repeat; round++) {
      // rotate who goes first, so that no server always runs right after the same neighbour
      for (let i = 0; i < serving.length; i++) {
        const server = serving[(i + round) % serving.length]
        process.stderr.write(`\r[${++done}/${total}] ${label}: ${server.name}          `)
        runs.get(server.name).push(await load(server.port, scenario))
      }
    }
    for (const server of serving) {
      const all = runs.get(server.name)
      results.push({
        server: server.name,
        ...scenario,
        rate: median(all.map((run) => run.rate)),
        p50: median(all.map((run) => run.p50)),
        p99: median(all.map((run) => run.p99)),
        runs: all
      })
    }
  }
  process.stderr.write("\n")
} finally {
  for (const server of running) server.child.kill("SIGKILL")
}

const sameScenario = (server, result) =>
  results.find((r) =>
    r.server === server && r.mode === result.mode && r.connections === result.connections && r.size === result.size &&
    r.json === result.json
  )
// the reference is raw ws; the floor column is the Effect floor, or for JSON the hand-parsed route
const rows = results.map((result) => {
  const reference = sameScenario(result.json ? "ws JSON" : "ws", result)
  const floor = sameScenario(result.json ? "hand-parsed JSON" : "Effect floor", result)
  return {
    ...result,
    ratio: reference && reference.rate > 0 ? result.rate / reference.rate : null,
    p99Ratio: reference && reference.p99 > 0 ? result.p99 / reference.p99 : null,
    floorRatio: floor && floor.rate > 0 ? result.rate / floor.rate : null
  }
})
const pad = (value, width) => String(value).padStart(width)
console.log(`\nmedians of ${repeat} run${repeat === 1 ? "" : "s"} per scenario and server`)
console.log(
  `${pad("scenario", 30)} ${pad("server", 18)} ${pad("msgs/s", 9)} ${pad("p50 µs", 8)} ${pad("p99 µs", 8)} ${
    pad("x ws", 6)
  } ${pad("p99 x ws", 9)} ${pad("x floor", 8)}`
)
for (const row of rows) {
  console.log(
    `${pad(`${row.json ? "json " : ""}${row.mode} ${row.connections}c ${row.size}B`, 30)} ${pad(row.server, 18)} ${
      pad(row.rate, 9)
    } ${pad(row.p50, 8)} ${pad(row.p99, 8)} ${pad(row.ratio?.toFixed(2) ?? "-", 6)} ${
      pad(row.p99Ratio?.toFixed(2) ?? "-", 9)
    } ${pad(row.floorRatio?.toFixed(2) ?? "-", 8)}`
  )
}
mkdirSync(join(here, "results"), { recursive: true })
const file = join(here, "results", quick ? "quick.json" : "full.json")
writeFileSync(
  file,
  JSON.stringify(
    { date: new Date().toISOString(), quick, repeat, taskset: hasTaskset, node: process.version, rows },
    null,
    2
  )
)
console.log(
  `\nresults written to ${file}${hasTaskset ? "" : " (taskset not found: server and client were not pinned)"}`
)
