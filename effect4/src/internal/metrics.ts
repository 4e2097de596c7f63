/**
 * The library's metrics, through `effect/Metric`, in Effect's default `MetricRegistry` (the
 * process-wide one, which any exporter, such as `effect/observability/OtlpMetrics` or
 * `PrometheusMetrics`, reads by default). Every name starts with `websocket_`; counters end in
 * `_total`, sizes are in bytes and durations in seconds.
 *
 * Each series is a plain cell here (a number, or a histogram's buckets), updated where the event
 * happens with an addition, and registered once, at its first update, with `Metric.registerUnsafe`:
 * the registry reads the cell whenever metrics are read (`Metric.value`, `Metric.snapshot`, an
 * exporter). An update is then no registry lookup and no context read: the library counts every
 * message, and an update through the registry cost about 0.5 µs a message and 6 µs a connection
 * (bench/effect4.mjs). A series registered so ignores `Metric.update`; only the library updates them.
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import type { CloseInfo } from "../Connection.js"

/**
 * The context series register in: empty, so the default `MetricRegistry` and no contextual
 * attributes (`Metric.CurrentMetricAttributes`), as Effect 3's global registry and explicit labels.
 */
const context: Context.Context<never> = Context.empty()

/** Open connections, all routes together. */
export const connectionsOpen = Metric.gauge("websocket_connections_open", {
  description: "WebSocket connections open now"
})
/** Connections opened (handshake done), a counter. */
export const connectionsOpened = Metric.counter("websocket_connections_opened_total", {
  description: "WebSocket connections opened",
  incremental: true
})
/** Connections closed, by close code and initiator. */
export const connectionsClosed = Metric.counter("websocket_connections_closed_total", {
  description: "WebSocket connections closed, by code and initiator",
  incremental: true
})
/** Upgrade requests refused, by HTTP status. */
export const upgradesRejected = Metric.counter("websocket_upgrades_rejected_total", {
  description: "WebSocket upgrade requests answered without upgrading, by status",
  incremental: true
})
/** Messages received from peers, by kind (`text`, `binary`). */
export const messagesReceived = Metric.counter("websocket_messages_received_total", {
  description: "WebSocket messages received, by kind",
  incremental: true
})
/** Messages written to peers, by kind; broadcast deliveries included. */
export const messagesSent = Metric.counter("websocket_messages_sent_total", {
  description: "WebSocket messages sent, by kind (broadcast deliveries included)",
  incremental: true
})
/** Payload bytes of the messages received. */
export const bytesReceived = Metric.counter("websocket_received_bytes_total", {
  description: "Payload bytes of the WebSocket messages received",
  incremental: true
})
/** Payload bytes of the messages sent (before compression, framing excluded). */
export const bytesSent = Metric.counter("websocket_sent_bytes_total", {
  description: "Payload bytes of the WebSocket messages sent",
  incremental: true
})
/** Sends that failed with a `SendError`, by its reason. */
export const sendErrors = Metric.counter("websocket_send_errors_total", {
  description: "WebSocket sends that failed, by reason",
  incremental: true
})
/** The handler duration histogram's bucket bounds, in seconds: from 100 µs to 26 s, ×4 each. */
const handlerBoundaries = Metric.exponentialBoundaries({ start: 0.0001, factor: 4, count: 10 })
/** How long handlers take, by handler (`onInit`, `onMessage`, `onClose`): from 100 µs to 26 s. */
export const handlerDuration = Metric.histogram("websocket_handler_duration_seconds", {
  description: "Time a WebSocket handler takes to complete, in seconds, by handler",
  boundaries: handlerBoundaries
})
/** Connections closed by a timer, by kind (`heartbeat`, `idle`, `init`, `close`). */
export const timeouts = Metric.counter("websocket_timeouts_total", {
  description: "WebSocket timeouts, by kind (heartbeat, idle, init, close)",
  incremental: true
})
/**
 * Times a connection's buffers were full: `direction="inbound"` when the loop paused reading from the
 * peer, `direction="outbound"` when a send or a delivery found the outbound buffer full, with what
 * happened (`policy`: `suspend`, `fail`, `close`, `drop`, `pause`).
 */
export const backpressure = Metric.counter("websocket_backpressure_total", {
  description: "WebSocket buffers found full, by direction and policy",
  incremental: true
})
/**
 * Messages over a connection's `rateLimit`, by what happened (`action`: `close`, `drop`, `pause`).
 */
export const rateLimited = Metric.counter("websocket_rate_limited_total", {
  description: "WebSocket messages over the connection's rate limit, by action (close, drop, pause)",
  incremental: true
})
/** `Broadcast.publish` calls, by topic label (updated through `broadcastPublished` below). */
export const broadcastPublishedTotal = Metric.counter("websocket_broadcast_published_total", {
  description: "Broadcast publishes, by topic",
  incremental: true
})
/** Messages written to subscribers, by topic label. */
export const broadcastDeliveredTotal = Metric.counter("websocket_broadcast_delivered_total", {
  description: "Broadcast messages written to subscribers, by topic",
  incremental: true
})
/** Messages a full subscriber did not get (dropped, or the subscriber closed), by topic label. */
export const broadcastDroppedTotal = Metric.counter("websocket_broadcast_dropped_total", {
  description: "Broadcast messages not written to a full subscriber, by topic",
  incremental: true
})

/**
 * A series of `metric`: the same metric with `attributes` (Effect 3's labels), made once and kept, so
 * that its series key is computed once. Same name, description and kind as `metric`: the registry
 * holds it as one series of it, the one `Metric.withAttributes(metric, attributes)` reads.
 */
/** Registers a series whose state the registry reads with `get`; updates from elsewhere are ignored. */
const register = <Input, State>(metric: Metric.Metric<Input, State>, get: () => State): void => {
  Metric.registerUnsafe(metric, context, { get, update: () => {}, modify: () => {} })
}

/** A counter series: a number the registry reads. */
class CounterCell {
  private count = 0
  private registered = false
  constructor(private readonly metric: Metric.Counter<number>) {}

  add(amount: number): void {
    this.count += amount
    if (this.registered) return
    this.registered = true
    register(this.metric, () => ({ count: this.count, incremental: true }))
  }
}

/** A gauge series: a number the registry reads. */
class GaugeCell {
  private value = 0
  private registered = false
  constructor(private readonly metric: Metric.Gauge<number>) {}

  modify(amount: number): void {
    this.value += amount
    if (this.registered) return
    this.registered = true
    register(this.metric, () => ({ value: this.value }))
  }
}

/**
 * A histogram series: counts per bucket, with count, sum, min and max, read by the registry as Effect's
 * own histogram reports them (cumulative buckets, one per boundary, the last `Infinity`).
 */
class HistogramCell {
  private readonly counts: Uint32Array
  private count = 0
  private sum = 0
  private min = Number.MAX_VALUE
  private max = -Number.MAX_VALUE
  private registered = false
  constructor(private readonly metric: Metric.Histogram<number>, private readonly boundaries: ReadonlyArray<number>) {
    this.counts = new Uint32Array(boundaries.length)
  }

  observe(value: number): void {
    const boundaries = this.boundaries
    let bucket = 0
    while (bucket < boundaries.length - 1 && value > boundaries[bucket]) bucket++
    this.counts[bucket]++
    this.count++
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
    if (this.registered) return
    this.registered = true
    register(this.metric, () => {
      let cumulated = 0
      const buckets = this.boundaries.map((boundary, i): [number, number] => [boundary, cumulated += this.counts[i]])
      return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
    })
  }
}

/** The series of `metric` with `attributes`. */
const counterSeries = (metric: Metric.Counter<number>, attributes: Metric.Metric.AttributeSet): CounterCell =>
  new CounterCell(Metric.counter(metric.id, { description: metric.description, incremental: true, attributes }))

const open = new GaugeCell(connectionsOpen)
const openedTotal = new CounterCell(connectionsOpened)
const text = counterSeries(messagesReceived, { kind: "text" })
const binary = counterSeries(messagesReceived, { kind: "binary" })
const textSent = counterSeries(messagesSent, { kind: "text" })
const binarySent = counterSeries(messagesSent, { kind: "binary" })
const bytesIn = new CounterCell(bytesReceived)
const bytesOut = new CounterCell(bytesSent)

export const opened = (): void => {
  open.modify(1)
  openedTotal.add(1)
}

/** One series per key, made at the key's first use. */
const seriesBy = <K, S>(make: (key: K) => S) => {
  const made = new Map<K, S>()
  return (key: K): S => {
    let series = made.get(key)
    if (series === undefined) {
      series = make(key)
      made.set(key, series)
    }
    return series
  }
}

const closedSeries = seriesBy((key: string) => {
  const space = key.indexOf(" ")
  return counterSeries(connectionsClosed, { code: key.slice(0, space), initiator: key.slice(space + 1) })
})

export const closed = (info: CloseInfo): void => {
  open.modify(-1)
  closedSeries(`${info.code} ${info.initiator}`).add(1)
}

const rejectedSeries = seriesBy((status: number) => counterSeries(upgradesRejected, { status: String(status) }))

export const rejected = (status: number): void => {
  rejectedSeries(status).add(1)
}

export const received = (isBinary: boolean, bytes: number): void => {
  ;(isBinary ? binary : text).add(1)
  bytesIn.add(bytes)
}

export const sent = (isBinary: boolean, bytes: number, count: number): void => {
  ;(isBinary ? binarySent : textSent).add(count)
  bytesOut.add(bytes * count)
}

const sendErrorSeries = {
  SocketClosed: counterSeries(sendErrors, { reason: "SocketClosed" }),
  Timeout: counterSeries(sendErrors, { reason: "Timeout" }),
  Backpressure: counterSeries(sendErrors, { reason: "Backpressure" }),
  Unknown: counterSeries(sendErrors, { reason: "Unknown" })
} as const

export const sendFailed = (reason: keyof typeof sendErrorSeries): void => {
  sendErrorSeries[reason].add(1)
}

export type Handler = "onInit" | "onMessage" | "onClose"
const handlerSeries = (handler: Handler): HistogramCell =>
  new HistogramCell(
    Metric.histogram(handlerDuration.id, {
      description: handlerDuration.description,
      boundaries: handlerBoundaries,
      attributes: { handler }
    }),
    handlerBoundaries
  )
const handlerDurations = {
  onInit: handlerSeries("onInit"),
  onMessage: handlerSeries("onMessage"),
  onClose: handlerSeries("onClose")
} as const

/** `millis`, the handler's duration, is recorded in seconds. */
export const handled = (handler: Handler, millis: number): void => {
  handlerDurations[handler].observe(millis / 1000)
}

export type Timeout = "heartbeat" | "idle" | "init" | "close"
const timeoutSeries = {
  heartbeat: counterSeries(timeouts, { kind: "heartbeat" }),
  idle: counterSeries(timeouts, { kind: "idle" }),
  init: counterSeries(timeouts, { kind: "init" }),
  close: counterSeries(timeouts, { kind: "close" })
} as const

export const timedOut = (kind: Timeout): void => {
  timeoutSeries[kind].add(1)
}

export type RateAction = "close" | "drop" | "pause"
const rateSeries = {
  close: counterSeries(rateLimited, { action: "close" }),
  drop: counterSeries(rateLimited, { action: "drop" }),
  pause: counterSeries(rateLimited, { action: "pause" })
} as const

export const limited = (action: RateAction): void => {
  rateSeries[action].add(1)
}

export type Pressure = "suspend" | "fail" | "close" | "drop" | "pause"
const pressure = (direction: string, policy: Pressure) => counterSeries(backpressure, { direction, policy })
const pressureSeries = {
  suspend: pressure("outbound", "suspend"),
  fail: pressure("outbound", "fail"),
  close: pressure("outbound", "close"),
  drop: pressure("outbound", "drop"),
  pause: pressure("inbound", "pause")
} as const

export const pressed = (policy: Pressure): void => {
  pressureSeries[policy].add(1)
}

/** The series of one broadcast topic label. */
export interface TopicLabels {
  readonly published: CounterCell
  readonly delivered: CounterCell
  readonly dropped: CounterCell
}

/**
 * The series of one broadcast topic label, made once each. The labels come from the layer's
 * `metricsTopic`, which maps the topics to a bounded set: the registry keeps every label it sees.
 */
export const topicLabel = seriesBy((topic: string): TopicLabels => {
  const attributes = { topic }
  return {
    published: counterSeries(broadcastPublishedTotal, attributes),
    delivered: counterSeries(broadcastDeliveredTotal, attributes),
    dropped: counterSeries(broadcastDroppedTotal, attributes)
  }
})

/**
 * A broadcast counter, updated by topic label as Effect 3's `unsafeUpdate(count, labels)` was (the call
 * sites of internal/broadcast.ts are the same): `count` added to the series of `labels`.
 */
export interface TopicCounter {
  readonly unsafeUpdate: (count: number, labels: TopicLabels) => void
}

/** Adds `count` publishes to a topic label's series. */
export const broadcastPublished: TopicCounter = { unsafeUpdate: (count, labels) => labels.published.add(count) }
/** Adds `count` deliveries to a topic label's series. */
export const broadcastDelivered: TopicCounter = { unsafeUpdate: (count, labels) => labels.delivered.add(count) }
/** Adds `count` drops to a topic label's series. */
export const broadcastDropped: TopicCounter = { unsafeUpdate: (count, labels) => labels.dropped.add(count) }

/**
 * The UTF-8 size of `text`, counted in JavaScript without encoding it (a lone surrogate counts as
 * U+FFFD, 3 bytes): for runtimes without `Buffer`.
 */
export const utf8Length = (text: string): number => {
  const length = text.length
  let bytes = length
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) {
      bytes += 1
    } else if (code >= 0xd800 && code < 0xdc00 && i + 1 < length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // a surrogate pair: 2 code units, 4 bytes
      bytes += 2
      i++
    } else {
      bytes += 2
    }
  }
  return bytes
}

const nativeBuffer = (globalThis as {
  readonly Buffer?: { readonly byteLength: (text: string, encoding: "utf8") => number }
}).Buffer

/**
 * The UTF-8 size of `text`: `Buffer.byteLength` where there is one (Node, Bun, Deno), 25 times faster
 * than counting in JavaScript from a few hundred characters on (bench/micro: 10 µs against 270 µs for
 * 64 KiB); the loop stays free of `node:` imports.
 */
export const textBytes: (text: string) => number = nativeBuffer === undefined
  ? utf8Length
  : (text) => nativeBuffer.byteLength(text, "utf8")
