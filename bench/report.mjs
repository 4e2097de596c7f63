// node bench/report.mjs: the Markdown tables of BENCHMARKS.md from the latest full results in
// bench/results (full.json, memory.json, cluster.json, handshake.json), for pasting after a run; with
// Effect 4 rows in them (--effect4, node bench/effect4.mjs), also the Effect 4 section's table.
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const results = join(dirname(fileURLToPath(import.meta.url)), "results")
const read = (
  name
) => (existsSync(join(results, name)) ? JSON.parse(readFileSync(join(results, name), "utf8")) : undefined)

const full = read("full.json")
if (full) {
  console.log(`Throughput: ${full.date}, Node ${full.node}, medians of ${full.repeat} runs per scenario and server\n`)
  console.log("| scenario | server | msgs/s | p50 µs | p99 µs | × ws | p99 × ws | × Effect floor |")
  console.log("|---|---|---:|---:|---:|---:|---:|---:|")
  for (const row of full.rows) {
    console.log(
      `| ${row.mode} ${row.connections} conn ${row.size} B | ${row.server} | ${row.rate} | ${row.p50} | ${row.p99} | ${
        row.ratio?.toFixed(2) ?? "-"
      } | ${row.p99Ratio?.toFixed(2) ?? "-"} | ${row.floorRatio?.toFixed(2) ?? "-"} |`
    )
  }
  console.log()
}
const memory = read("memory.json")
if (memory) {
  console.log(`Memory: ${memory.date}\n`)
  console.log("| server | idle connections | heap per connection (KiB) | RSS per connection (KiB) | heap × ws |")
  console.log("|---|---:|---:|---:|---:|")
  for (const row of memory.rows) {
    const ws = memory.rows.find((r) => r.server === (row.reference ?? "ws") && r.count === row.count)
    console.log(
      `| ${row.server} | ${row.count} | ${(row.heapPerConnection / 1024).toFixed(1)} | ${
        (row.rssPerConnection / 1024).toFixed(1)
      } | ${(row.heapPerConnection / ws.heapPerConnection).toFixed(2)} |`
    )
  }
  console.log()
}
const cluster = read("cluster.json")
if (cluster) {
  console.log(`Cluster: ${cluster.date}\n`)
  console.log(
    `${cluster.opened} of ${cluster.target} connections opened in ${
      cluster.connectSeconds.toFixed(0)
    } s by ${cluster.clients} client processes, held by ${cluster.workers} workers; after ${
      cluster.heldMs / 1000
    } s with a ${
      cluster.heartbeatMs / 1000
    } s heartbeat ${cluster.openAfterHeartbeats} were open (${cluster.closedEarly} closed early), each pinged at least ${cluster.minPingsPerConnection} times; ${cluster.echoed} echoed a message.\n`
  )
  console.log("| worker | connections | heap per connection (KiB) | RSS per connection (KiB) |")
  console.log("|---:|---:|---:|---:|")
  for (const [i, worker] of cluster.perWorker.entries()) {
    console.log(
      `| ${i + 1} | ${worker.connections} | ${(worker.heapPerConnection / 1024).toFixed(1)} | ${
        (worker.rssPerConnection / 1024).toFixed(1)
      } |`
    )
  }
}

// the Effect 4 section: both lines side by side, from the latest runs with --effect4 (node bench/effect4.mjs)
const handshakes = read("handshake.json")
const hasEffect4 = (file) => file?.rows.some((row) => row.server === "effect-websocket 4 app")
if (hasEffect4(handshakes) || hasEffect4(memory) || hasEffect4(full)) {
  const columns = [
    ["ws", "ws (Node 20)"],
    ["Effect floor", "Effect 3 floor"],
    ["effect-websocket app", "effect-websocket app (Effect 3)"],
    ["ws (Node 22)", "ws (Node 22)"],
    ["Effect 4 floor", "Effect 4 floor"],
    ["effect-websocket 4 app", "effect-websocket app (Effect 4)"]
  ]
  const ratio = (value) => (value === null || value === undefined ? "-" : value.toFixed(2))
  const lines = []
  const add = (label, rows, value, format, ratioOf, target) => {
    if (rows === undefined) return
    const of = (server) => rows.find((row) => row.server === server)
    const app3 = of("effect-websocket app")
    const app4 = of("effect-websocket 4 app")
    lines.push(
      `| ${label} | ${columns.map(([server]) => (of(server) ? format(value(of(server))) : "-")).join(" | ")} | ${
        ratio(app3 && ratioOf(app3, of))
      } | ${ratio(app4 && ratioOf(app4, of))} | ${target} |`
    )
  }
  const runsOf = (row, format) => row.runs.map(format).join(" ")
  console.log(
    `Effect 4: handshakes ${handshakes?.date ?? "-"}, memory ${memory?.date ?? "-"}, echo ${full?.date ?? "-"}\n`
  )
  console.log(
    `| measure | ${
      columns.map(([, title]) => title).join(" | ")
    } | Effect 3 app ratio | Effect 4 app ratio | Effect 4 target |`
  )
  console.log(`|---|${columns.map(() => "---:").join("|")}|---:|---:|---|`)
  add(
    "handshakes/s (× ws)",
    handshakes?.rows,
    (row) => row.rate,
    String,
    (row, of) => row.rate / of(row.server === "effect-websocket app" ? "ws" : "ws (Node 22)")?.rate,
    "≥ 0.8"
  )
  const at = (count) => memory?.rows.filter((row) => row.count === count)
  add(
    "heap per idle connection at 10,000, KiB (× ws)",
    at(10000),
    (row) => row.heapPerConnection / 1024,
    (value) => value.toFixed(1),
    (row, of) =>
      row.heapPerConnection / of(row.server === "effect-websocket app" ? "ws" : "ws (Node 22)")?.heapPerConnection,
    "≤ 1.5"
  )
  for (const [scenario, target] of [["ping-pong 100 conn 32 B", "≥ 1.0"], ["pipelined 1000 conn 32 B", "≥ 1.3"]]) {
    add(
      `${scenario}, msgs/s (× floor)`,
      full?.rows.filter((row) => `${row.mode} ${row.connections} conn ${row.size} B` === scenario && !row.json),
      (row) => row.rate,
      String,
      (row) => row.floorRatio,
      target
    )
  }
  console.log(lines.join("\n"))
  console.log("\nEach run (the spread):\n")
  for (const row of handshakes?.rows ?? []) console.log(`- handshakes/s, ${row.server}: ${row.rates.join(" ")}`)
  for (const row of at(10000) ?? []) {
    if (row.runs) {
      console.log(
        `- heap KiB at 10,000, ${row.server}: ${runsOf(row, (run) => (run.heapPerConnection / 1024).toFixed(1))}`
      )
    }
  }
  for (const row of full?.rows.filter((row) => !row.json) ?? []) {
    console.log(
      `- ${row.mode} ${row.connections} conn ${row.size} B, ${row.server}: ${runsOf(row, (run) => run.rate)}`
    )
  }
}
