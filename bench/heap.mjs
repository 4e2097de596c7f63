// node bench/heap.mjs [server] [--retainers Name]: where the heap of an idle connection goes. Starts a
// bench server (default servers/effect-websocket.ts) with --heapsnapshot-signal, takes a heap snapshot
// before and after opening 1,000 idle connections (GC first, through GET /memory), and prints the
// difference per connection by object kind (V8 type and constructor name), largest first. With
// --retainers Name, also prints what keeps three objects of that name alive (the first path found).
// Loopback only; the server is killed at the end. With --effect4, the server is one of effect4/bench (default
// servers/effect-websocket-app.ts), run from effect4/ on Node 22 as bench/effect4.mjs runs them.
import { spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { node22 } from "../scripts/node22.mjs"
import { builtEnv } from "./built.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const retainersFlag = args.indexOf("--retainers")
const retainersOf = retainersFlag >= 0 ? args[retainersFlag + 1] : undefined
const ownersFlag = args.indexOf("--owners")
const ownersOf = ownersFlag >= 0 ? args[ownersFlag + 1] : undefined
const effect4 = args.includes("--effect4")
// the first argument that is neither a flag nor a flag's value (a flag absent has index -1: no value to skip)
const flagValues = [retainersFlag, ownersFlag].filter((flag) => flag >= 0).map((flag) => flag + 1)
const serverFile = args.find((arg, i) => !arg.startsWith("--") && !flagValues.includes(i)) ??
  (effect4 ? "servers/effect-websocket-app.ts" : "servers/effect-websocket.ts")
const serverDir = effect4 ? join(here, "..", "effect4", "bench") : here
const count = 1000
const dir = mkdtempSync(join(tmpdir(), "heap-"))

const child = spawn(effect4 ? node22() : process.execPath, [
  "--expose-gc",
  "--heapsnapshot-signal=SIGUSR2",
  `--diagnostic-dir=${dir}`,
  "--import",
  "tsx",
  join(serverDir, serverFile)
], { cwd: join(serverDir, ".."), env: builtEnv(join(serverDir, "..")), stdio: ["ignore", "pipe", "inherit"] })
const port = await new Promise((resolve) => {
  let output = ""
  child.stdout.on("data", (chunk) => {
    output += chunk
    const match = /PORT (\d+)/.exec(output)
    if (match) resolve(Number(match[1]))
  })
})
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const gc = () => fetch(`http://127.0.0.1:${port}/memory`).then((response) => response.json())
const snapshots = () => readdirSync(dir).filter((name) => name.endsWith(".heapsnapshot")).sort()

/** Signals the server and waits until the snapshot file stops growing. */
const snapshot = async () => {
  const before = snapshots().length
  child.kill("SIGUSR2")
  while (snapshots().length === before) await sleep(200)
  const file = join(dir, snapshots().at(-1))
  for (let last = -1;;) {
    await sleep(1000)
    const size = statSync(file).size
    if (size === last && size > 0) return file
    last = size
  }
}

const handshake = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
const open = () =>
  new Promise((resolve) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.write(handshake))
    socket.once("data", () => resolve(socket))
  })

const parse = (file) => {
  const heap = JSON.parse(readFileSync(file, "utf8"))
  const fields = heap.snapshot.meta.node_fields
  return { heap, fields, width: fields.length, types: heap.snapshot.meta.node_types[0] }
}
const kinds = ({ heap, fields, width, types }) => {
  const [type, name, size] = ["type", "name", "self_size"].map((field) => fields.indexOf(field))
  const totals = new Map()
  for (let i = 0; i < heap.nodes.length; i += width) {
    const key = `${types[heap.nodes[i + type]]}:${heap.strings[heap.nodes[i + name]].slice(0, 60)}`
    const entry = totals.get(key) ?? [0, 0]
    entry[0]++
    entry[1] += heap.nodes[i + size]
    totals.set(key, entry)
  }
  return totals
}

try {
  // warm up: code compiled, pools filled
  const warm = await Promise.all(Array.from({ length: 50 }, open))
  warm.forEach((socket) => socket.destroy())
  await sleep(500)
  await gc()
  const before = await snapshot()
  const sockets = []
  for (let i = 0; i < count; i += 100) sockets.push(...(await Promise.all(Array.from({ length: 100 }, open))))
  await sleep(1000)
  await gc()
  const after = await snapshot()
  const first = kinds(parse(before))
  const second = parse(after)
  const rows = []
  for (const [key, [n, size]] of kinds(second)) {
    const [n0, size0] = first.get(key) ?? [0, 0]
    rows.push([key, (n - n0) / count, (size - size0) / count])
  }
  rows.sort((a, b) => b[2] - a[2])
  console.log(
    `${serverFile}: ${(rows.reduce((sum, row) => sum + row[2], 0) / 1024).toFixed(1)} KiB per idle connection`
  )
  console.log("  bytes  count  kind")
  for (const [key, n, size] of rows.slice(0, 30)) {
    console.log(`${size.toFixed(0).padStart(7)} ${n.toFixed(2).padStart(6)}  ${key}`)
  }
  if (retainersOf !== undefined) printRetainers(second, retainersOf)
  if (ownersOf !== undefined) printOwners(parse(before), second, ownersOf)
  sockets.forEach((socket) => socket.destroy())
} finally {
  child.kill("SIGKILL")
  rmSync(dir, { recursive: true, force: true })
}

/** Per connection, what directly holds the objects of one kind ("closure:", "object:Object"). */
function printOwners(first, second, kind) {
  const tally = (parsed) => {
    const { heap, fields, width, types } = parsed
    const [type, name, edgeCount] = ["type", "name", "edge_count"].map((field) => fields.indexOf(field))
    const edgeFields = heap.snapshot.meta.edge_fields
    const edgeTypes = heap.snapshot.meta.edge_types[0]
    const [edgeType, edgeName, toNode] = ["type", "name_or_index", "to_node"].map((f) => edgeFields.indexOf(f))
    const kindOf = (node) =>
      `${types[heap.nodes[node * width + type]]}:${heap.strings[heap.nodes[node * width + name]]}`
    const totals = new Map()
    for (let node = 0, edge = 0; node < heap.nodes.length / width; node++) {
      for (let k = 0; k < heap.nodes[node * width + edgeCount]; k++, edge++) {
        const at = edge * edgeFields.length
        const edgeKind = edgeTypes[heap.edges[at + edgeType]]
        if (edgeKind === "weak" || kindOf(heap.edges[at + toNode] / width) !== kind) continue
        const label = edgeKind === "element" || edgeKind === "hidden" ? "[]" : heap.strings[heap.edges[at + edgeName]]
        const key = `${label} <- ${kindOf(node).slice(0, 50)}`
        totals.set(key, (totals.get(key) ?? 0) + 1)
      }
    }
    return totals
  }
  const [a, b] = [tally(first), tally(second)]
  const rows = [...b].map(([key, n]) => [key, (n - (a.get(key) ?? 0)) / count]).filter(([, n]) => n >= 0.5)
  rows.sort((x, y) => y[1] - x[1])
  console.log(`\nper connection, what holds ${kind}:`)
  for (const [key, n] of rows.slice(0, 40)) console.log(`${n.toFixed(2).padStart(7)}  ${key}`)
}

function printRetainers({ heap, fields, width }, target) {
  const edgeFields = heap.snapshot.meta.edge_fields
  const edgeTypes = heap.snapshot.meta.edge_types[0]
  const [nameField, edgeCount] = [fields.indexOf("name"), fields.indexOf("edge_count")]
  const [edgeType, edgeName, toNode] = ["type", "name_or_index", "to_node"].map((field) => edgeFields.indexOf(field))
  const nodes = heap.nodes.length / width
  const nameOf = (node) => heap.strings[heap.nodes[node * width + nameField]]
  const retainers = Array.from({ length: nodes }, () => [])
  for (let node = 0, edge = 0; node < nodes; node++) {
    for (let k = 0; k < heap.nodes[node * width + edgeCount]; k++, edge++) {
      const at = edge * edgeFields.length
      const type = edgeTypes[heap.edges[at + edgeType]]
      if (type === "weak") continue
      const label = type === "element" || type === "hidden"
        ? heap.edges[at + edgeName]
        : heap.strings[heap.edges[at + edgeName]]
      retainers[heap.edges[at + toNode] / width].push([node, `${type}:${label}`])
    }
  }
  const found = []
  for (let node = 0; node < nodes; node++) if (nameOf(node) === target) found.push(node)
  console.log(`\n${found.length} objects named ${target}; what keeps three of them:`)
  for (const start of found.slice(-3)) {
    const path = []
    for (let node = start, depth = 0; depth < 12; depth++) {
      const next = retainers[node].find(([by]) => !path.some(([seen]) => seen === by))
      if (next === undefined) break
      path.push(next)
      node = next[0]
    }
    console.log(path.map(([by, label]) => `  ${label} <- ${nameOf(by)}`).join("\n"), "\n  --")
  }
}
