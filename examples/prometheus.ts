// Effect's metrics in the Prometheus text exposition format (version 0.0.4): a formatter for the
// registry's snapshot, and the route that serves it. The library's own metrics (all named
// `websocket_*`) are in Effect's global registry, so they appear here with the application's.
import { HttpServerResponse } from "@effect/platform"
import { Effect, Metric, MetricKeyType, type MetricPair, MetricState, Option } from "effect"

type Family = "counter" | "gauge" | "histogram" | "summary"

interface Series {
  /** The labels as written, to order the series by. */
  readonly text: string
  readonly labels: ReadonlyArray<readonly [string, string]>
  readonly state: MetricState.MetricState.Untyped
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

const familyOf = ({ metricKey, metricState: state }: MetricPair.MetricPair.Untyped): Family =>
  MetricState.isGaugeState(state) || (MetricKeyType.isCounterKey(metricKey.keyType) && !metricKey.keyType.incremental)
    ? "gauge"
    : MetricState.isHistogramState(state)
    ? "histogram"
    : MetricState.isSummaryState(state)
    ? "summary"
    : "counter" // counters, and frequencies as one counter per observed value

/** The sample lines of one series (one metric key with its tags). */
const samples = (name: string, { labels, state }: Series): Array<string> => {
  const line = (suffix: string, extra: ReadonlyArray<readonly [string, string]>, value: number | bigint) =>
    `${name}${suffix}${formatLabels([...labels, ...extra])} ${formatValue(value)}`
  if (MetricState.isCounterState(state)) return [line("", [], state.count)]
  if (MetricState.isGaugeState(state)) return [line("", [], state.value)]
  if (MetricState.isFrequencyState(state)) {
    return [...state.occurrences].map(([key, count]) => line("", [["key", key]], count))
  }
  if (MetricState.isHistogramState(state)) {
    // Effect's buckets are already cumulative, and usually end with +Inf; Prometheus needs that one.
    const buckets = state.buckets.map(([bound, count]) => line("_bucket", [["le", formatValue(bound)]], count))
    const last = state.buckets[state.buckets.length - 1]
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) {
      buckets.push(line("_bucket", [["le", "+Inf"]], state.count))
    }
    return [...buckets, line("_sum", [], state.sum), line("_count", [], state.count)]
  }
  if (MetricState.isSummaryState(state)) {
    return [
      ...state.quantiles.map(([quantile, value]) =>
        line("", [["quantile", formatValue(quantile)]], Option.getOrElse(value, () => Number.NaN))
      ),
      line("_sum", [], state.sum),
      line("_count", [], state.count)
    ]
  }
  return []
}

/**
 * Renders a metric snapshot (`Metric.snapshot`, or `Metric.unsafeSnapshot()`) in the Prometheus text
 * exposition format 0.0.4.
 *
 * Counters made with `incremental: true` (as the library's are) become `counter`; other Effect counters
 * may decrease (`effect_fiber_active`, for one), so they become `gauge`, like gauges. Histograms become
 * `histogram` (cumulative `_bucket` lines up to `le="+Inf"`, `_sum`, `_count`), summaries `summary`
 * (one line per quantile, `_sum`, `_count`), and a frequency a `counter` with one line per observed
 * value, labelled `key` (as @effect/opentelemetry exports it). Each metric name gets one `# HELP` (from
 * the key's description, when it has one) and one `# TYPE`, its series together; series of one name but
 * of another kind than its first are left out, as Prometheus would refuse them. Names are made valid
 * (`[a-zA-Z_:][a-zA-Z0-9_:]*`), tags become labels with their values escaped, and of two tags with one
 * name the later is kept.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { prometheusText } from "./prometheus.js"
 *
 * const requests = Metric.counter("requests_total", { description: "Requests served", incremental: true })
 * const text = Effect.gen(function*() {
 *   yield* Metric.increment(Metric.tagged(requests, "route", "/chat"))
 *   return prometheusText(yield* Metric.snapshot)
 * })
 * // # HELP requests_total Requests served
 * // # TYPE requests_total counter
 * // requests_total{route="/chat"} 1
 * ```
 */
export const prometheusText = (snapshot: Iterable<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, { type: Family; help: string | undefined; series: Array<Series> }>()
  for (const pair of snapshot) {
    const { metricKey, metricState } = pair
    const name = metricName(metricKey.name)
    const type = familyOf(pair)
    const family = families.get(name) ?? { type, help: undefined, series: [] }
    families.set(name, family)
    if (family.type !== type) continue
    family.help ??= Option.getOrUndefined(metricKey.description)
    const labels = new Map<string, string>()
    for (const tag of metricKey.tags) labels.set(labelName(tag.key), tag.value)
    const sorted = [...labels].sort(([a], [b]) => byText(a, b))
    family.series.push({ text: formatLabels(sorted), labels: sorted, state: metricState })
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
 * `GET /metrics` for a Prometheus scraper: every metric in Effect's global registry, in the text
 * format 0.0.4.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { metricsRoute } from "./prometheus.js"
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/metrics", metricsRoute))
 * ```
 */
export const metricsRoute: Effect.Effect<HttpServerResponse.HttpServerResponse> = Effect.map(
  Metric.snapshot,
  (snapshot) =>
    HttpServerResponse.text(prometheusText(snapshot), { contentType: "text/plain; version=0.0.4; charset=utf-8" })
)
