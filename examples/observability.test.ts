import { HttpServer } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { SpanKind } from "@opentelemetry/api"
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Context, Effect, Layer } from "effect"
import { openWs } from "../test/support/client.js"
import { layer } from "./observability.js"

/** `self` every 20 ms until `done` holds of its result, for 5 s at most; its last result either way. */
const eventually = <A>(self: Effect.Effect<A>, done: (a: A) => boolean): Effect.Effect<A> =>
  self.pipe(Effect.zipLeft(Effect.sleep("20 millis")), Effect.repeat({ until: done, times: 250 }))

const scrape = (port: number) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`)
    return { contentType: response.headers.get("content-type"), text: await response.text() }
  })

/** The value of the sample line `series` (name and labels as written), if there is one. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((line) => line.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const closedByPeer = "websocket_connections_closed_total{code=\"1000\",initiator=\"peer\"}"

describe("observability example", () => {
  it.scopedLive("counts the connection at /metrics and traces it as a child of its upgrade request", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const context = yield* Layer.build(layer({ exporter, listen: { port: 0, host: "127.0.0.1" } }))
      const address = Context.get(context, HttpServer.HttpServer).address
      assert(address._tag === "TcpAddress")
      const before = sample((yield* scrape(address.port)).text, closedByPeer) ?? 0

      const ann = yield* openWs(`ws://127.0.0.1:${address.port}/chat?user=Ann`)
      ann.ws.send("hello")
      assert.strictEqual(yield* ann.next, "Ann: hello")
      ann.ws.close(1000)
      assert.strictEqual((yield* ann.closed).code, 1000)

      // (a) the server is done with the connection once it counts it closed
      const metrics = yield* eventually(scrape(address.port), ({ text }) => (sample(text, closedByPeer) ?? 0) > before)
      assert.strictEqual(metrics.contentType, "text/plain; version=0.0.4; charset=utf-8")
      assert.strictEqual(sample(metrics.text, closedByPeer), before + 1, metrics.text)
      assert.isAtLeast(sample(metrics.text, "websocket_connections_opened_total") ?? 0, 1, metrics.text)
      assert.include(metrics.text, "# TYPE websocket_connections_open gauge\n")
      assert.include(metrics.text, "# TYPE websocket_connections_closed_total counter\n")
      assert.strictEqual(sample(metrics.text, "websocket_connections_open"), 0, metrics.text)

      // (b) the upgrade request's span, and the connection's span under it
      const isUpgrade = (span: ReadableSpan) =>
        span.kind === SpanKind.SERVER && span.attributes["url.path"] === "/chat" && span.name.startsWith("http.server")
      const spans = yield* eventually(
        Effect.sync(() => exporter.getFinishedSpans()),
        (spans) => spans.some(isUpgrade) && spans.some((span) => span.name === "websocket.connection")
      )
      const names = spans.map((span) => `${span.name} ${JSON.stringify(span.attributes)}`).join("\n")
      const upgrade = spans.find(isUpgrade)
      assert(upgrade !== undefined, `no span of the upgrade request among:\n${names}`)
      assert.strictEqual(upgrade.name, "http.server GET")
      assert.strictEqual(upgrade.attributes["http.response.status_code"], 101)
      assert.isFalse(spans.some((span) => span.attributes["url.path"] === "/metrics"), "scrapes are not traced")
      const connection = spans.find((span) => span.name === "websocket.connection")
      assert(connection !== undefined, `no websocket.connection span among:\n${names}`)
      assert.strictEqual(connection.parentSpanContext?.spanId, upgrade.spanContext().spanId)
      assert.strictEqual(connection.spanContext().traceId, upgrade.spanContext().traceId)
      assert.strictEqual(connection.attributes["websocket.close.code"], 1000)
    }))
})
