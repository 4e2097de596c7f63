// The echo chat, observed: traces through OpenTelemetry (@effect/opentelemetry) and metrics for
// Prometheus at `GET /metrics`. The platform gives each HTTP request a server span (`http.server GET`);
// the library gives each WebSocket connection a `websocket.connection` span, child of its upgrade
// request's span, and counts connections in Effect's metrics (`websocket_*`), which `/metrics` shows.
//
//   npx tsx examples/observability.ts   # on PORT (default 8080); spans are printed as they end
import { NodeSdk } from "@effect/opentelemetry"
import { HttpMiddleware, HttpRouter, HttpServer } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import { Config, Effect, Layer } from "effect"
import { NodeServer } from "effect-websocket/node"
import { createServer } from "node:http"
import type * as Net from "node:net"
import { pathToFileURL } from "node:url"
import { router } from "./echo-chat.js"
import { metricsRoute } from "./prometheus.js"

/** The echo chat (`/chat?user=YourName`), and the metrics for a Prometheus scraper (`/metrics`). */
export const app = router.pipe(HttpRouter.get("/metrics", metricsRoute))

/**
 * Tracing through OpenTelemetry: every span goes to `exporter` as it ends.
 *
 * To send the spans to a collector (Jaeger, Grafana Tempo, Honeycomb...) rather than the console,
 * `npm install @opentelemetry/exporter-trace-otlp-http` and use
 * `spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url: "http://localhost:4318/v1/traces" }))`
 * (`BatchSpanProcessor` from @opentelemetry/sdk-trace-base, which sends spans in batches, off the
 * request's path). `OTEL_RESOURCE_ATTRIBUTES` adds to the resource; `serviceName` here wins over
 * `OTEL_SERVICE_NAME`.
 */
export const tracing = (exporter: SpanExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "effect-websocket-example" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))

/** `app` served and traced. Scrapes of `/metrics` are not traced: one every few seconds is only noise. */
export const layer = (options: {
  /** Where the spans go: a `ConsoleSpanExporter` here, an `InMemorySpanExporter` in the test. */
  readonly exporter: SpanExporter
  /** Where the server listens: `{ port: 0 }` for any free port. */
  readonly listen: Net.ListenOptions
}) =>
  HttpServer.serve(app).pipe(
    HttpMiddleware.withTracerDisabledForUrls(["/metrics"]),
    Layer.provideMerge(NodeServer.layer(createServer, options.listen)),
    // provided last, so that the server and every request handled on it run with this tracer
    Layer.provide(tracing(options.exporter))
  )

const printUrls = HttpServer.addressWith((address) =>
  address._tag === "TcpAddress"
    ? Effect.log(
      `echo chat listening: connect to ws://localhost:${address.port}/chat?user=YourName; ` +
        `metrics at http://localhost:${address.port}/metrics`
    )
    : Effect.log(`echo chat listening on ${address.path}`)
)

// Run only as a program (`tsx examples/observability.ts`), not when a test imports the layers above.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const main = Layer.unwrapEffect(
    Effect.map(
      Config.integer("PORT").pipe(Config.withDefault(8080)),
      (port) =>
        Layer.effectDiscard(printUrls).pipe(
          Layer.provide(layer({ exporter: new ConsoleSpanExporter(), listen: { port } }))
        )
    )
  )
  NodeRuntime.runMain(Layer.launch(main))
}
