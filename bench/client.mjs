// Load generator: N connections to ws://127.0.0.1:PORT/, ping-pong or pipelined, for a fixed time.
// Prints one JSON line: messages/s and latency percentiles (µs) over the measured window.
import WebSocket from "ws"

const { port, connections, mode, size, durationMs, warmupMs, window = 16 } = JSON.parse(process.argv[2])
const payload = size <= 1024 ? "x".repeat(size) : Buffer.alloc(size, 120)
const binary = typeof payload !== "string"
const samples = []
const maxSamples = 500_000
let received = 0
let measuring = false
let stopped = false

const now = () => performance.now()

const open = (i) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false })
    ws.binaryType = "nodebuffer"
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  })

const sockets = []
for (let i = 0; i < connections; i += 100) {
  const batch = []
  for (let j = i; j < Math.min(connections, i + 100); j++) batch.push(open(j))
  sockets.push(...(await Promise.all(batch)))
}

for (const ws of sockets) {
  const sentAt = []
  const send = () => {
    if (stopped) return
    sentAt.push(now())
    ws.send(payload, { binary })
  }
  ws.on("message", () => {
    const t = sentAt.shift()
    if (measuring) {
      received++
      if (samples.length < maxSamples) samples.push(now() - t)
    }
    send()
  })
  const inFlight = mode === "pipelined" ? window : 1
  for (let k = 0; k < inFlight; k++) send()
}

await new Promise((resolve) => setTimeout(resolve, warmupMs))
measuring = true
const start = now()
await new Promise((resolve) => setTimeout(resolve, durationMs))
measuring = false
const seconds = (now() - start) / 1000
stopped = true
samples.sort((a, b) => a - b)
const pct = (p) => (samples.length === 0 ? null : Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] * 1000))
console.log(JSON.stringify({ messages: received, rate: Math.round(received / seconds), p50: pct(0.5), p99: pct(0.99) }))
for (const ws of sockets) ws.terminate()
process.exit(0)
