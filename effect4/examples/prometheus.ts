// Effect's metrics in the Prometheus text exposition format (version 0.0.4): a formatter for the
// registry's snapshot, and the route that serves it. The library's own metrics (all named
// `websocket_*`) are in Effect's metric registry, so they appear here with the application's.
//
// Effect 4 ships a formatter of its own (`PrometheusMetrics.format`/`layerHttp` from
// "effect/observability"). This one differs where a scraper can tell: a counter that may decrease is a
// gauge, a quantile not known is NaN rather than left out, a name's series of another kind are left
// out, the output is sorted (stable from one scrape to the next), and names keep their underscores.
import { Effect, Metric } from "effect"
import { HttpServerResponse } from "effect/http"

type Family = "counter" | "gauge" | "histogram" | "summary"

interface Series {
  /** The labels as written, to order the series by. */
  readonly text: string
  readonly labels: ReadonlyArray<readonly [string, string]>
  readonly snapshot: Metric.Metric.Snapshot
}

/** A metric name Prometheus accepts: `[a-zA-Z_:][a-zA-Z0-9_:]*`, each other character an `_`. */
const metricName = (name: string): string => {
  const sanitized = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(sanitized) ? sanitized : `_${sanitized}`
}

/** A label name Prometheus accepts: `[a-zA-Z_][a-zA-Z0-9_]*` (no colon, unlike metric names). */
const labelName = (name: string): string => {
  const sanitized = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(sanitized) ? sanitized : `_${sanitized}`
}

const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

// In HELP lines only the backslash and the line feed are escaped, not the double quote.
const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const formatValue = (value: number | bigint): string =>
  typeof value === "bigint" || Number.isFinite(value)
    ? String(value)
    : Number.isNaN(value)
    ? "NaN"
    : value > 0
    ? "+Inf"
    : "-Inf"

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const formatLabels = (labels: ReadonlyArray<readonly [string, string]>): string =>
  labels.length === 0
    ? ""
    : `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`

const familyOf = (snapshot: Metric.Metric.Snapshot): Family => {
  switch (snapshot.type) {
    case "Counter":
      return snapshot.state.incremental ? "counter" : "gauge"
    case "Gauge":
      return "gauge"
    case "Histogram":
      return "histogram"
    case "Summary":
      return "summary"
    case "Frequency":
      return "counter" // one counter per observed value
  }
}

/** The sample lines of one series (one metric with its attributes). */
const samples = (name: string, { labels, snapshot }: Series): Array<string> => {
  const line = (suffix: string, extra: ReadonlyArray<readonly [string, string]>, value: number | bigint) =>
    `${name}${suffix}${formatLabels([...labels, ...extra])} ${formatValue(value)}`
  switch (snapshot.type) {
    case "Counter":
      return [line("", [], snapshot.state.count)]
    case "Gauge":
      return [line("", [], snapshot.state.value)]
    case "Frequency":
      return [...snapshot.state.occurrences].map(([key, count]) => line("", [["key", key]], count))
    case "Histogram": {
      // Effect's buckets are already cumulative, and may end with +Inf; Prometheus needs that one.
      const { buckets, count, sum } = snapshot.state
      const lines = buckets.map(([bound, count]) => line("_bucket", [["le", formatValue(bound)]], count))
      const last = buckets[buckets.length - 1]
      if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) {
        lines.push(line("_bucket", [["le", "+Inf"]], count))
      }
      return [...lines, line("_sum", [], sum), line("_count", [], count)]
    }
    case "Summary": {
      const { count, quantiles, sum } = snapshot.state
      return [
        ...quantiles.map(([quantile, value]) => line("", [["quantile", formatValue(quantile)]], value ?? Number.NaN)),
        line("_sum", [], sum),
        line("_count", [], count)
      ]
    }
  }
}

/**
 * Renders a metric snapshot (`Metric.snapshot`, or `Metric.snapshotUnsafe(context)`) in the Prometheus
 * text exposition format 0.0.4.
 *
 * Counters made with `incremental: true` (as the library's are) become `counter`; other Effect counters
 * may decrease, so they become `gauge`, like gauges. Histograms become `histogram` (cumulative
 * `_bucket` lines up to `le="+Inf"`, `_sum`, `_count`), summaries `summary` (one line per quantile,
 * `NaN` for one not known, `_sum`, `_count`), and a frequency a `counter` with one line per observed
 * value, labelled `key` (as @effect/opentelemetry exports it). Each metric name gets one `# HELP` (from
 * the metric's description, when it has one) and one `# TYPE`, its series together; series of one name
 * but of another kind than its first are left out, as Prometheus would refuse them. Names are made
 * valid (`[a-zA-Z_:][a-zA-Z0-9_:]*`), attributes become labels with their values escaped, and of two
 * attributes with one label name the later is kept.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { prometheusText } from "./prometheus.js"
 *
 * const requests = Metric.counter("requests_total", { description: "Requests served", incremental: true })
 * const text = Effect.gen(function*() {
 *   yield* Metric.update(Metric.withAttributes(requests, { route: "/chat" }), 1)
 *   return prometheusText(yield* Metric.snapshot)
 * })
 * // # HELP requests_total Requests served
 * // # TYPE requests_total counter
 * // requests_total{route="/chat"} 1
 * ```
 */
export const prometheusText = (snapshot: Iterable<Metric.Metric.Snapshot>): string => {
  const families = new Map<string, { type: Family; help: string | undefined; series: Array<Series> }>()
  for (const metric of snapshot) {
    const name = metricName(metric.id)
    const type = familyOf(metric)
    const family = families.get(name) ?? { type, help: undefined, series: [] }
    families.set(name, family)
    if (family.type !== type) continue
    family.help ??= metric.description
    const labels = new Map<string, string>()
    for (const [key, value] of Object.entries(metric.attributes ?? {})) labels.set(labelName(key), value)
    const sorted = [...labels].sort(([a], [b]) => byText(a, b))
    family.series.push({ text: formatLabels(sorted), labels: sorted, snapshot: metric })
  }
  const lines: Array<string> = []
  for (const [name, family] of [...families].sort(([a], [b]) => byText(a, b))) {
    if (family.help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${name} ${family.type}`)
    for (const series of family.series.sort((a, b) => byText(a.text, b.text))) lines.push(...samples(name, series))
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}

/**
 * `GET /metrics` for a Prometheus scraper: every metric in Effect's metric registry, in the text
 * format 0.0.4.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "effect/http"
 * import { metricsRoute } from "./prometheus.js"
 *
 * const MetricsRoutes = HttpRouter.add("GET", "/metrics", metricsRoute)
 * ```
 */
export const metricsRoute: Effect.Effect<HttpServerResponse.HttpServerResponse> = Effect.map(
  Metric.snapshot,
  (snapshot) =>
    HttpServerResponse.text(prometheusText(snapshot), { contentType: "text/plain; version=0.0.4; charset=utf-8" })
)
