// Raw ws JSON echo, the reference for the JSON scenarios: JSON.parse each message, check it by hand,
// answer with JSON.stringify.
import { createServer } from "node:http"
import { WebSocketServer } from "ws"

const server = createServer((_request, response) => response.end(""))
const wss = new WebSocketServer({ server, perMessageDeflate: false })
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    const message = JSON.parse(data.toString())
    if (message.type === "say" && typeof message.text === "string") {
      ws.send(JSON.stringify({ type: "said", text: message.text }))
    }
  })
})
server.listen(0, "127.0.0.1", () => console.log(`PORT ${server.address().port}`))
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0))
