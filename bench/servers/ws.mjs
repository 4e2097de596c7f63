// Raw ws echo: the reference. Text stays text, binary stays binary. GET /memory reports memory use.
import { createServer } from "node:http"
import { WebSocketServer } from "ws"

const memory = () => {
  globalThis.gc?.()
  return JSON.stringify(process.memoryUsage())
}
const server = createServer((request, response) => {
  response.end(request.url === "/memory" ? memory() : "")
})
const wss = new WebSocketServer({ server, perMessageDeflate: false })
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(isBinary ? data : data.toString(), { binary: isBinary }))
})
server.listen(0, "127.0.0.1", () => console.log(`PORT ${server.address().port}`))
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0))
