// node bench/report.mjs: the Markdown tables of BENCHMARKS.md from the latest full results in
// bench/results (full.json, memory.json, cluster.json), for pasting after a run.
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
    const ws = memory.rows.find((r) => r.server === "ws" && r.count === row.count)
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
