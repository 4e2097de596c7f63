import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { HttpRouter } from "effect/http"
import { metricsRoute, prometheusText } from "./prometheus.js"

/** The text of the metrics called `names` only: the registry is shared with the library and the other tests. */
const render = (...names: Array<string>) =>
  Effect.map(
    Metric.snapshot,
    (snapshot) => prometheusText(snapshot.filter((metric) => names.includes(metric.id)))
  )

describe("prometheus", () => {
  describe("prometheusText", () => {
    it.effect("writes counters with their attributes as labels, HELP and TYPE once per name", () =>
      Effect.gen(function*() {
        const requests = Metric.counter("test_requests_total", { description: "Requests, by route", incremental: true })
        yield* Metric.update(Metric.withAttributes(requests, { route: "/chat" }), 3)
        yield* Metric.update(Metric.withAttributes(requests, { route: "/", method: "GET" }), 1)
        assert.strictEqual(
          yield* render("test_requests_total"),
          [
            "# HELP test_requests_total Requests, by route",
            "# TYPE test_requests_total counter",
            "test_requests_total{method=\"GET\",route=\"/\"} 1",
            "test_requests_total{route=\"/chat\"} 3",
            ""
          ].join("\n")
        )
      }))

    it.effect("escapes backslash, double quote and line feed in label values, and in HELP all but the quote", () =>
      Effect.gen(function*() {
        const errors = Metric.counter("test_errors_total", {
          description: "Errors\nwith \\ and \"quotes\"",
          incremental: true
        })
        yield* Metric.update(Metric.withAttributes(errors, { message: "a \"quoted\" C:\\path\nsecond line" }), 1)
        assert.strictEqual(
          yield* render("test_errors_total"),
          [
            "# HELP test_errors_total Errors\\nwith \\\\ and \"quotes\"",
            "# TYPE test_errors_total counter",
            "test_errors_total{message=\"a \\\"quoted\\\" C:\\\\path\\nsecond line\"} 1",
            ""
          ].join("\n")
        )
      }))

    it.effect("writes a gauge, without HELP when the metric has no description", () =>
      Effect.gen(function*() {
        yield* Metric.update(Metric.gauge("test_temperature"), -2.5)
        assert.strictEqual(yield* render("test_temperature"), "# TYPE test_temperature gauge\ntest_temperature -2.5\n")
      }))

    it.effect("writes a counter that may decrease (not incremental) as a gauge", () =>
      Effect.gen(function*() {
        const active = Metric.counter("test_active")
        yield* Metric.update(active, 3)
        yield* Metric.update(active, -1)
        assert.strictEqual(yield* render("test_active"), "# TYPE test_active gauge\ntest_active 2\n")
      }))

    it.effect("writes a histogram's cumulative buckets up to +Inf, its sum and its count", () =>
      Effect.gen(function*() {
        const latency = Metric.histogram("test_latency_seconds", {
          description: "Handler latency",
          boundaries: Metric.boundariesFromIterable([0.25, 0.5, 1])
        }).pipe(Metric.withAttributes({ route: "/chat" }))
        for (const seconds of [0.25, 0.5, 0.5, 2]) yield* Metric.update(latency, seconds)
        assert.strictEqual(
          yield* render("test_latency_seconds"),
          [
            "# HELP test_latency_seconds Handler latency",
            "# TYPE test_latency_seconds histogram",
            "test_latency_seconds_bucket{route=\"/chat\",le=\"0.25\"} 1",
            "test_latency_seconds_bucket{route=\"/chat\",le=\"0.5\"} 3",
            "test_latency_seconds_bucket{route=\"/chat\",le=\"1\"} 3",
            "test_latency_seconds_bucket{route=\"/chat\",le=\"+Inf\"} 4",
            "test_latency_seconds_sum{route=\"/chat\"} 3.25",
            "test_latency_seconds_count{route=\"/chat\"} 4",
            ""
          ].join("\n")
        )
      }))

    // Effect 4 stamps a summary's samples with the Clock and ages them against it: the TestClock works
    it.effect("writes a summary with a quantile label per quantile, its sum and its count", () =>
      Effect.gen(function*() {
        const sizes = Metric.summary("test_sizes", {
          maxAge: "1 minute",
          maxSize: 100,
          quantiles: [0.5, 1],
          description: "Message sizes"
        })
        for (const size of [1, 2, 3]) yield* Metric.update(sizes, size)
        const text = yield* render("test_sizes")
        assert.match(text, /^# HELP test_sizes Message sizes\n# TYPE test_sizes summary\n/)
        assert.match(text, /^test_sizes\{quantile="0\.5"\} [123]$/m)
        assert.match(text, /^test_sizes\{quantile="1"\} 3$/m)
        assert.include(text, "test_sizes_sum 6\ntest_sizes_count 3\n")
      }))

    it("writes NaN for a quantile not known (every sample older than maxAge)", () => {
      const snapshot: Metric.Metric.Snapshot = {
        id: "aged",
        type: "Summary",
        description: undefined,
        attributes: undefined,
        state: { quantiles: [[0.5, undefined]], count: 2, min: 1, max: 2, sum: 3 }
      }
      assert.strictEqual(
        prometheusText([snapshot]),
        "# TYPE aged summary\naged{quantile=\"0.5\"} NaN\naged_sum 3\naged_count 2\n"
      )
    })

    it.effect("writes a frequency as a counter with one line per value, labelled key", () =>
      Effect.gen(function*() {
        const kinds = Metric.frequency("test_kinds", { description: "Message kinds" })
        for (const kind of ["text", "binary", "text"]) yield* Metric.update(kinds, kind)
        assert.strictEqual(
          yield* render("test_kinds"),
          [
            "# HELP test_kinds Message kinds",
            "# TYPE test_kinds counter",
            "test_kinds{key=\"text\"} 2",
            "test_kinds{key=\"binary\"} 1",
            ""
          ].join("\n")
        )
      }))

    it.effect("makes metric and label names valid", () =>
      Effect.gen(function*() {
        yield* Metric.update(
          Metric.withAttributes(Metric.counter("test.http-requests/total", { incremental: true }), {
            "http.method": "GET"
          }),
          1
        )
        yield* Metric.update(Metric.gauge("test:ok"), 1)
        assert.strictEqual(
          yield* render("test.http-requests/total", "test:ok"),
          [
            "# TYPE test:ok gauge",
            "test:ok 1",
            "# TYPE test_http_requests_total counter",
            "test_http_requests_total{http_method=\"GET\"} 1",
            ""
          ].join("\n")
        )
      }))

    it("writes nothing for no metrics", () => {
      assert.strictEqual(prometheusText([]), "")
    })
  })

  describe("metricsRoute", () => {
    it.effect("answers with the registry in the text format 0.0.4", () =>
      Effect.gen(function*() {
        yield* Metric.update(Metric.counter("test_scraped_total", { incremental: true }), 1)
        const { dispose, handler } = HttpRouter.toWebHandler(HttpRouter.add("GET", "/metrics", metricsRoute), {
          disableLogger: true
        })
        yield* Effect.addFinalizer(() => Effect.promise(dispose))
        const response = yield* Effect.promise(() => handler(new Request("http://localhost/metrics")))
        assert.strictEqual(response.status, 200)
        assert.strictEqual(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        assert.include(
          yield* Effect.promise(() => response.text()),
          "# TYPE test_scraped_total counter\ntest_scraped_total 1\n"
        )
      }))
  })
})
