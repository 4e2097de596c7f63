// Raw ws echo: the reference. Text stays text, binary stays binary.
import { WebSocketServer } from "ws"

const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false })
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(isBinary ? data : data.toString(), { binary: isBinary }))
})
wss.on("listening", () => console.log(`PORT ${wss.address().port}`))
process.on("SIGTERM", () => process.exit(0))
