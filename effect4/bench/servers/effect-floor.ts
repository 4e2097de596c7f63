// The Effect 4 floor: bench/servers/effect-floor.ts on Effect 4. Raw ws, one fiber per connection
// parked on a Queue, and an Effect.gen handler per message; no limits, no timers, no ordering
// guarantees beyond the queue's. What any design that runs an Effect per message costs on Effect 4.
// GET /memory reports memory use. Run on Node >= 22.12 from effect4/ (it resolves effect@4).
import { Effect, Queue } from "effect"
import { createServer } from "node:http"
import { WebSocketServer } from "ws"

const server = createServer((request, response) => {
  if (request.url === "/memory") {
    ;(globalThis as { gc?: () => void }).gc?.()
    response.end(JSON.stringify(process.memoryUsage()))
  } else response.end("")
})
const wss = new WebSocketServer({ server, perMessageDeflate: false })
wss.on("connection", (ws) => {
  const inbox = Effect.runSync(Queue.unbounded<readonly [Buffer, boolean]>())
  ws.on("message", (data: Buffer, isBinary: boolean) => Queue.offerUnsafe(inbox, [data, isBinary]))
  ws.on("close", () => Effect.runFork(Queue.shutdown(inbox)))
  Effect.runFork(Effect.forever(Effect.gen(function*() {
    const [data, isBinary] = yield* Queue.take(inbox)
    yield* Effect.sync(() => ws.send(isBinary ? data : data.toString(), { binary: isBinary }))
  })))
})
server.listen(0, "127.0.0.1", () => console.log(`PORT ${(server.address() as { port: number }).port}`))
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0))
