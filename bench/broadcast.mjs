// npm run bench:broadcast [-- --quick]: one publish to 1,000 and 10,000 subscribers. Each round, a
// control connection sends a 64-byte message that the server sends to every subscriber; the client
// times it from the send until the last subscriber has it (deliveries per second = subscribers /
// that time; medians of the rounds). Servers: raw ws with a hand-written loop of ws.send (the
// reference), effect-websocket's Broadcast in one process, and two effect-websocket processes
// sharing the topic through a redis-server started here (subscribers split between them, the
// publish made on the first). Servers on core 0, the client on core 1 where taskset exists.
// Loopback only; bounded in time.
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { builtEnv } from "./built.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const payloadSize = 64
const frameSize = 2 + payloadSize

const handshake = (path) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

/** A raw client socket past its handshake; `onData` gets what follows the 101. */
const open = (port, path, localAddress, onData) =>
  new Promise((resolve, reject) => {
    const socket = Net.connect({ port, host: "127.0.0.1", localAddress, noDelay: true }, () =>
      socket.write(handshake(path)))
    let head = Buffer.alloc(0)
    let upgraded = false
    socket.on("error", reject)
    socket.on("data", (chunk) => {
      if (upgraded) {
        return onData(chunk)
      }
      head = Buffer.concat([head, chunk])
      const end = head.indexOf("\r\n\r\n")
      if (end < 0) {
        return
      }
      if (!head.subarray(0, 12).toString().includes("101")) {
        return reject(new Error(head.toString()))
      }
      upgraded = true
      resolve(socket)
      if (head.length > end + 4) {
        onData(head.subarray(end + 4))
      }
    })
  })

const client = async ({ ports, subscribers, rounds }) => {
  const received = new Array(subscribers).fill(0)
  let expected = 0
  let remaining = 0
  let done = () => {}
  const sockets = []
  for (let i = 0; i < subscribers; i += 200) {
    const batch = Array.from({ length: Math.min(200, subscribers - i) }, (_, k) => {
      const index = i + k
      return open(ports[index % ports.length], "/", `127.0.0.${1 + (index % 8)}`, (chunk) => {
        const before = received[index]
        received[index] += chunk.length
        if (before < expected && received[index] >= expected && --remaining === 0) done()
      })
    })
    sockets.push(...(await Promise.all(batch)))
  }
  const control = await open(ports[0], "/control", "127.0.0.9", () => {})
  await new Promise((resolve) => setTimeout(resolve, 500))
  const times = []
  for (let round = 0; round < rounds; round++) {
    expected = (round + 1) * frameSize
    remaining = subscribers
    const all = new Promise((resolve) => (done = resolve))
    const payload = Buffer.alloc(payloadSize, 0x61 + (round % 26))
    const start = process.hrtime.bigint()
    // masked with a zero key, which RFC 6455 allows
    control.write(Buffer.concat([Buffer.from([0x81, 0x80 | payloadSize, 0, 0, 0, 0]), payload]))
    await all
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  for (const socket of [...sockets, control]) socket.destroy()
  times.sort((a, b) => a - b)
  console.log(JSON.stringify({ ms: times[Math.floor(times.length / 2)], times }))
}

if (process.argv[2] === "--client") {
  await client(JSON.parse(process.argv[3]))
  process.exit(0)
}

const quick = process.argv.includes("--quick")
const counts = quick ? [200] : [1000, 10000]
const rounds = quick ? 3 : 15
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0
const pinned = (core, args) =>
  hasTaskset ? ["taskset", ["-c", String(core), process.execPath, ...args]] : [process.execPath, args]

/** Starts `node args` and resolves with the child and the port it prints. */
const startNode = (args, env = {}) =>
  new Promise((resolve, reject) => {
    const [command, commandArgs] = pinned(0, args)
    const child = spawn(command, commandArgs, {
      cwd: join(here, ".."),
      env: { ...builtEnv(join(here, "..")), ...env },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
      const match = /PORT (\d+)/.exec(output)
      if (match) resolve({ child, port: Number(match[1]) })
    })
    child.once("exit", (code) => reject(new Error(`${args.at(-1)} exited with ${code}`)))
  })

const freePort = () =>
  new Promise((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const startRedis = async () => {
  const port = await freePort()
  const child = spawn("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no"
  ], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  await new Promise((resolve, reject) => {
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
      if (output.includes("Ready to accept connections")) resolve()
    })
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)))
  })
  return { child, url: `redis://127.0.0.1:${port}` }
}

const runClient = (settings) =>
  new Promise((resolve, reject) => {
    const [command, args] = pinned(1, [fileURLToPath(import.meta.url), "--client", JSON.stringify(settings)])
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000)
    child.stdout.on("data", (chunk) => (output += chunk))
    child.once("exit", (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(JSON.parse(output))
      else reject(new Error(`client exited with ${code}`))
    })
  })

const effectServer = ["--import", "tsx", join(here, "servers/broadcast-effect.ts")]
const setups = [
  { name: "ws (loop of ws.send)", start: async () => [await startNode([join(here, "servers/broadcast-ws.mjs")])] },
  { name: "effect-websocket", start: async () => [await startNode(effectServer)] },
  {
    name: "effect-websocket, 2 processes + Redis",
    start: async () => {
      const redis = await startRedis()
      const servers = await Promise.all([
        startNode(effectServer, { REDIS_URL: redis.url }),
        startNode(effectServer, { REDIS_URL: redis.url })
      ])
      return [...servers, { child: redis.child }]
    }
  }
]

const rows = []
for (const subscribers of counts) {
  for (const setup of setups) {
    const processes = await setup.start()
    try {
      const ports = processes.filter((process) => process.port !== undefined).map((process) => process.port)
      const result = await runClient({ ports, subscribers, rounds })
      rows.push({
        subscribers,
        server: setup.name,
        ms: result.ms,
        perSecond: Math.round(subscribers / (result.ms / 1000))
      })
      process.stderr.write(`\r${subscribers} subscribers, ${setup.name}: ${result.ms.toFixed(2)} ms          `)
    } finally {
      for (const { child } of processes) child.kill("SIGKILL")
    }
  }
}
process.stderr.write("\n")
const pad = (value, width) => String(value).padStart(width)
console.log(`medians of ${rounds} publishes; time until the last subscriber has the message`)
console.log(
  `${pad("subscribers", 11)} ${pad("server", 38)} ${pad("ms", 8)} ${pad("deliveries/s", 13)} ${pad("x ws", 6)}`
)
for (const row of rows) {
  const ws = rows.find((other) => other.subscribers === row.subscribers && other.server.startsWith("ws"))
  console.log(
    `${pad(row.subscribers, 11)} ${pad(row.server, 38)} ${pad(row.ms.toFixed(2), 8)} ${pad(row.perSecond, 13)} ${
      pad((row.perSecond / ws.perSecond).toFixed(2), 6)
    }`
  )
}
mkdirSync(join(here, "results"), { recursive: true })
const file = join(here, "results", quick ? "broadcast-quick.json" : "broadcast.json")
writeFileSync(
  file,
  JSON.stringify({ date: new Date().toISOString(), quick, rounds, node: process.version, rows }, null, 2)
)
console.log(`\nresults written to ${file}`)
