// Raw ws broadcast, the reference: every connection to / is a subscriber; a message on /control is
// sent to all of them with a hand-written loop of ws.send.
import { createServer } from "node:http"
import { WebSocketServer } from "ws"

const server = createServer((_request, response) => response.end(""))
const subscribers = new Set()
const wss = new WebSocketServer({ server, perMessageDeflate: false })
wss.on("connection", (ws, request) => {
  if (request.url === "/control") {
    ws.on("message", (data) => {
      const text = data.toString()
      for (const subscriber of subscribers) subscriber.send(text)
    })
    return
  }
  subscribers.add(ws)
  ws.on("close", () => subscribers.delete(ws))
})
server.listen(0, "127.0.0.1", () => console.log(`PORT ${server.address().port}`))
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0))
