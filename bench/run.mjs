// npm run bench [-- --quick] [-- --repeat N] [-- --only "ping-pong 100 conn 32 B,pipelined 1000"] [-- --baseline DIR]
// [-- --effect4] [-- --servers "ws,effect-websocket app"]: --effect4 adds the Effect 4 line (bench/effect4.mjs: its app
// server and floor, and ws, on Node 22) with its targets, --servers keeps some servers only (and their references).
// echo servers as separate processes (server on core 0,
// client on core 1 where taskset exists), one load generator per scenario, ratios against raw ws (and the Effect floor) from
// the same run. Runs on a shared machine are noisy, so each scenario runs `repeat` times (3 in a full
// run, 1 in a quick one), the servers taking turns in a rotating order, and the table shows medians.
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { baselineServers } from "./baseline.mjs"
import { builtEnv } from "./built.mjs"
import {
  APP4,
  effect4Servers,
  FLOOR4,
  FLOOR4_APP,
  floorOf,
  referenceOf,
  selectServers,
  targets,
  verdict,
  WS_NODE22
} from "./effect4.mjs"

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

const allServers = [
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

allServers.push(...baselineServers(), ...effect4Servers())
const servers = selectServers(allServers)
// the built package is checked now, before the first server starts (bench/built.mjs)
builtEnv(join(here, ".."))

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
    const [command, args] = pinned(0, server.node ?? process.execPath, server.args)
    const child = spawn(command, args, {
      cwd: server.cwd ?? join(here, ".."),
      env: server.env ?? builtEnv(join(here, "..")),
      stdio: ["ignore", "pipe", "inherit"]
    })
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
// the reference is raw ws on the server's Node; the floor column is the Effect floor of the server's Effect line, or
// for JSON the hand-parsed route. An Effect 4 server also gets its ratio against ws on this Node (ratioNode20).
const rows = results.map((result) => {
  const referenceName = result.json ? "ws JSON" : referenceOf(servers, result.server)
  const reference = sameScenario(referenceName, result)
  const floor = sameScenario(result.json ? "hand-parsed JSON" : floorOf(servers, result.server), result)
  const ws = sameScenario("ws", result)
  return {
    ...result,
    reference: referenceName,
    ratio: reference && reference.rate > 0 ? result.rate / reference.rate : null,
    p99Ratio: reference && reference.p99 > 0 ? result.p99 / reference.p99 : null,
    floorRatio: floor && floor.rate > 0 ? result.rate / floor.rate : null,
    ...(referenceName !== "ws" && !result.json && ws && ws.rate > 0 ? { ratioNode20: result.rate / ws.rate } : {})
  }
})
const pad = (value, width) => String(value).padStart(width)
console.log(`\nmedians of ${repeat} run${repeat === 1 ? "" : "s"} per scenario and server`)
if (servers.some((server) => server.effect4)) {
  console.log(`the Effect 4 servers' x ws is against ${WS_NODE22}, their x floor against ${FLOOR4}`)
}
console.log(
  `${pad("scenario", 30)} ${pad("server", 22)} ${pad("msgs/s", 9)} ${pad("p50 µs", 8)} ${pad("p99 µs", 8)} ${
    pad("x ws", 6)
  } ${pad("p99 x ws", 9)} ${pad("x floor", 8)}`
)
for (const row of rows) {
  console.log(
    `${pad(`${row.json ? "json " : ""}${row.mode} ${row.connections}c ${row.size}B`, 30)} ${pad(row.server, 22)} ${
      pad(row.rate, 9)
    } ${pad(row.p50, 8)} ${pad(row.p99, 8)} ${pad(row.ratio?.toFixed(2) ?? "-", 6)} ${
      pad(row.p99Ratio?.toFixed(2) ?? "-", 9)
    } ${pad(row.floorRatio?.toFixed(2) ?? "-", 8)}`
  )
}
// the Effect 4 line against its targets, with each run's rate (the spread) next to the medians
const effect4Rows = (scenario) => {
  const find = (server) =>
    rows.find((row) =>
      row.server === server && !row.json && `${row.mode} ${row.connections} conn ${row.size} B` === scenario
    )
  return {
    app: find(APP4),
    floor: find(FLOOR4),
    floorApp: find(FLOOR4_APP),
    app3: find("effect-websocket app"),
    floor3: find("Effect floor")
  }
}
if (rows.some((row) => row.server === APP4)) {
  console.log("\nEffect 4 targets (medians; each run's msgs/s in brackets)")
  const runsOf = (row) => (row ? `[${row.runs.map((run) => run.rate).join(" ")}]` : "")
  for (
    const [scenario, target] of [
      ["ping-pong 100 conn 32 B", targets.pingPong],
      ["pipelined 1000 conn 32 B", targets.pipelined]
    ]
  ) {
    const { app, app3, floor, floor3, floorApp } = effect4Rows(scenario)
    if (app === undefined) continue
    console.log(
      `${scenario}: ${APP4} ${app.rate} ${runsOf(app)}, ${FLOOR4} ${floor?.rate ?? "-"} ${runsOf(floor)}: x floor ${
        app.floorRatio?.toFixed(2) ?? "-"
      } ${verdict(target, app.floorRatio)}; x ws ${app.ratio?.toFixed(2) ?? "-"} (Node 22), ${
        app.ratioNode20?.toFixed(2) ?? "-"
      } (Node 20); Effect 3 app x its floor ${app3?.floorRatio?.toFixed(2) ?? "-"} (${app3?.rate ?? "-"} / ${
        floor3?.rate ?? "-"
      })`
    )
    // the same handler on both sides: the library's own cost per message against the floor's
    if (floorApp !== undefined) {
      console.log(
        `  ${APP4} x ${FLOOR4_APP} (the floor with the app's handler) ${
          (app.rate / floorApp.rate).toFixed(2)
        } (${app.rate} / ${floorApp.rate} ${runsOf(floorApp)})`
      )
    }
  }
}
mkdirSync(join(here, "results"), { recursive: true })
const file = join(here, "results", quick ? "quick.json" : "full.json")
writeFileSync(
  file,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      quick,
      repeat,
      taskset: hasTaskset,
      node: process.version,
      nodes: Object.fromEntries(
        servers.filter((server) => server.node).map((server) => [server.name, server.nodeVersion])
      ),
      rows
    },
    null,
    2
  )
)
console.log(
  `\nresults written to ${file}${hasTaskset ? "" : " (taskset not found: server and client were not pinned)"}`
)
