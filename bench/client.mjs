// Load generator: N raw TCP connections to ws://127.0.0.1:PORT/, ping-pong or pipelined, for a fixed
// time. Frames are pre-encoded (masked with a zero key, which RFC 6455 allows) and replies are only
// counted, so that one client core can push a server core to its limit. Prints one JSON line:
// messages/s and round-trip latency percentiles (µs) over the measured window.
import * as Net from "node:net"

const { port, connections, mode, size, durationMs, warmupMs, window = 16, json = false } = JSON.parse(process.argv[2])
const binary = size > 1024 && !json
const inFlight = mode === "pipelined" ? window : 1

const encode = (opcode, payload) => {
  const length = payload.length
  const header = length < 126 ? Buffer.alloc(6) : length < 65536 ? Buffer.alloc(8) : Buffer.alloc(14)
  header[0] = 0x80 | opcode
  if (length < 126) header[1] = 0x80 | length
  else if (length < 65536) {
    header[1] = 0x80 | 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = 0x80 | 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  return Buffer.concat([header, payload]) // the 4-byte mask key stays zero
}
// JSON scenarios send {"type":"say","text":"xx…"} of about `size` bytes
const payload = json
  ? Buffer.from(JSON.stringify({ type: "say", text: "x".repeat(Math.max(1, size - 25)) }))
  : Buffer.alloc(size, 120)
const frame = encode(binary ? 2 : 1, payload)

const samples = []
const maxSamples = 500_000
let received = 0
let measuring = false
let stopped = false
const now = () => performance.now()

const handshake = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

const connect = () =>
  new Promise((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.setNoDelay(true)
    let head = Buffer.alloc(0)
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf("\r\n\r\n")
      if (end < 0) return
      socket.off("data", onData)
      if (!head.toString("latin1", 0, 12).includes("101")) return reject(new Error(head.toString("latin1", 0, 40)))
      resolve({ socket, rest: head.subarray(end + 4) })
    }
    socket.on("data", onData)
    socket.once("error", reject)
    socket.write(handshake)
  })

const run = ({ socket, rest }) => {
  const sentAt = new Float64Array(inFlight)
  let head = 0
  let tail = 0
  let pending = rest
  const send = (count) => {
    if (stopped) return
    const t = now()
    for (let i = 0; i < count; i++) {
      sentAt[tail] = t
      tail = (tail + 1) % inFlight
    }
    socket.write(count === 1 ? frame : Buffer.concat(Array(count).fill(frame)))
  }
  socket.on("data", (chunk) => {
    let buffer = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    let offset = 0
    let complete = 0
    const t = now()
    while (offset + 2 <= buffer.length) {
      let length = buffer[offset + 1] & 0x7f
      let start = offset + 2
      if (length === 126) {
        if (offset + 4 > buffer.length) break
        length = buffer.readUInt16BE(offset + 2)
        start = offset + 4
      } else if (length === 127) {
        if (offset + 10 > buffer.length) break
        length = Number(buffer.readBigUInt64BE(offset + 2))
        start = offset + 10
      }
      if (start + length > buffer.length) break
      offset = start + length
      complete++
      if (measuring) {
        received++
        if (samples.length < maxSamples) samples.push(t - sentAt[head])
      }
      head = (head + 1) % inFlight
    }
    pending = offset === buffer.length ? Buffer.alloc(0) : buffer.subarray(offset)
    if (complete > 0) send(complete)
  })
  socket.on("error", () => {})
  send(inFlight)
}

const sockets = []
for (let i = 0; i < connections; i += 100) {
  const batch = []
  for (let j = i; j < Math.min(connections, i + 100); j++) batch.push(connect())
  sockets.push(...(await Promise.all(batch)))
}
for (const connection of sockets) run(connection)

await new Promise((resolve) => setTimeout(resolve, warmupMs))
measuring = true
const start = now()
await new Promise((resolve) => setTimeout(resolve, durationMs))
measuring = false
const seconds = (now() - start) / 1000
stopped = true
samples.sort((a, b) => a - b)
const pct = (
  p
) => (samples.length === 0
  ? null
  : Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] * 1000))
console.log(JSON.stringify({ messages: received, rate: Math.round(received / seconds), p50: pct(0.5), p99: pct(0.99) }))
for (const { socket } of sockets) socket.destroy()
process.exit(0)
