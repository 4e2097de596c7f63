// One client process of bench/cluster.mjs: opens `count` ws connections from `localAddress` (several
// 127.0.0.x addresses keep the ephemeral ports from running out), answers the server's pings (ws does
// that by itself) and counts them; on "check", echoes one message per connection.
import WebSocket from "ws"

const { port, count, localAddress } = JSON.parse(process.argv[2])
const sockets = []
const pings = new Uint32Array(count)
let closedEarly = 0
let failed = 0
let ending = false

const open = (index) =>
  new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { localAddress, perMessageDeflate: false })
    ws.on("ping", () => pings[index]++)
    ws.on("close", () => {
      if (!ending) closedEarly++
    })
    ws.once("open", () => resolve(ws))
    ws.once("error", () => {
      failed++
      resolve(undefined)
    })
  })

for (let i = 0; i < count; i += 250) {
  const batch = []
  for (let j = i; j < Math.min(count, i + 250); j++) batch.push(open(j))
  sockets.push(...(await Promise.all(batch)))
}
process.send({ type: "open", open: sockets.filter((ws) => ws !== undefined).length, failed })

const echo = (ws, index) =>
  new Promise((resolve) => {
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return resolve(false)
    const text = `echo ${index}`
    const timer = setTimeout(() => resolve(false), 60_000)
    ws.once("message", (data) => {
      clearTimeout(timer)
      resolve(data.toString() === text)
    })
    ws.send(text)
  })

process.on("message", async (message) => {
  if (message.type === "check") {
    let echoed = 0
    for (let i = 0; i < sockets.length; i += 1000) {
      const results = await Promise.all(sockets.slice(i, i + 1000).map((ws, k) => echo(ws, i + k)))
      echoed += results.filter(Boolean).length
    }
    process.send({
      type: "checked",
      open: sockets.filter((ws) => ws !== undefined && ws.readyState === WebSocket.OPEN).length,
      echoed,
      minPings: Math.min(...pings),
      closedEarly,
      failed
    })
  } else if (message.type === "stop") {
    ending = true
    for (const ws of sockets) ws?.terminate()
    process.exit(0)
  }
})
