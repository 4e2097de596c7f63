// The Effect 4 floor running the app server's handler: effect-floor.ts (raw ws, one fiber per
// connection parked on a Queue) with effect-websocket-app.ts's per-message work (an Effect.gen reading
// two services provided by Layers, a Ref update, the reply through a formatter). The app server's
// "x floor" compares the library plus that handler with the floor plus a trivial one; against this
// server the handler is the same on both sides, so the ratio is the library's own cost per message
// against the floor's. GET /memory reports memory use. Run on Node >= 22.12 from effect4/.
import { Context, Effect, Layer, Queue, Ref, Scope } from "effect"
import { createServer } from "node:http"
import { WebSocketServer } from "ws"

class Counter extends Context.Service<Counter, Ref.Ref<number>>()("bench/Counter") {}
class Format extends Context.Service<Format, { readonly reply: (text: string) => string }>()("bench/Format") {}

const services = Effect.runSync(
  Effect.flatMap(Scope.make(), (scope) =>
    Layer.buildWithScope(
      Layer.mergeAll(Layer.effect(Counter, Ref.make(0)), Layer.succeed(Format, { reply: (text: string) => text })),
      scope
    ))
)

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
  Effect.runForkWith(services)(Effect.forever(Effect.gen(function*() {
    const [data, isBinary] = yield* Queue.take(inbox)
    const counter = yield* Counter
    const format = yield* Format
    yield* Ref.update(counter, (n) => n + 1)
    yield* Effect.sync(() =>
      isBinary ? ws.send(data, { binary: true }) : ws.send(format.reply(data.toString()), { binary: false })
    )
  })))
})
server.listen(0, "127.0.0.1", () => console.log(`PORT ${(server.address() as { port: number }).port}`))
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0))
