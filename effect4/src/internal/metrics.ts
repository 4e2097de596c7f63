/**
 * The library's metrics, through `effect/Metric`, in Effect's default `MetricRegistry` (the
 * process-wide one, which any exporter, such as `effect/observability/OtlpMetrics` or
 * `PrometheusMetrics`, reads by default). Every name starts with `websocket_`; counters end in
 * `_total`, sizes are in bytes and durations in seconds.
 *
 * Updated where the event happens, with the `Unsafe` methods, in one context made once here, and on
 * series made once here, one metric per attribute set: Effect 4 caches a metric's series key per
 * context attribute set, so an update costs a map lookup and an addition, not an effect. (Through
 * `Metric.withAttributes` it would copy the context at each update.)
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import type { CloseInfo } from "../Connection.js"

/**
 * The context every update runs with: empty, so the default `MetricRegistry` and no contextual
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
const counterSeries = (
  metric: Metric.Counter<number>,
  attributes: Metric.Metric.AttributeSet
): Metric.Counter<number> =>
  Metric.counter(metric.id, { description: metric.description, incremental: true, attributes })

const text = counterSeries(messagesReceived, { kind: "text" })
const binary = counterSeries(messagesReceived, { kind: "binary" })
const textSent = counterSeries(messagesSent, { kind: "text" })
const binarySent = counterSeries(messagesSent, { kind: "binary" })

export const opened = (): void => {
  connectionsOpen.modifyUnsafe(1, context)
  connectionsOpened.updateUnsafe(1, context)
}

/**
 * The series of a metric by one value of its attributes (a close code and initiator, a status), made
 * the first time that value is seen and kept: the registry keeps every series it sees anyway.
 */
const seriesBy = <K>(make: (key: K) => Metric.Counter<number>) => {
  const made = new Map<K, Metric.Counter<number>>()
  return (key: K): Metric.Counter<number> => {
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
  connectionsOpen.modifyUnsafe(-1, context)
  closedSeries(`${info.code} ${info.initiator}`).updateUnsafe(1, context)
}

const rejectedSeries = seriesBy((status: number) => counterSeries(upgradesRejected, { status: String(status) }))

export const rejected = (status: number): void => {
  rejectedSeries(status).updateUnsafe(1, context)
}

/**
 * The per-message counters (messages and bytes each way) add up in plain numbers, shared by every
 * connection, and reach the metrics at the end of each turn of a connection's loop and of each
 * broadcast (`flush`): a message costs a few additions, not four metric updates. What is sent
 * elsewhere (a fiber of a handler's, say) is flushed by the next turn, or within a second by a timer
 * that is armed only while counts wait and does not keep the process alive.
 */
let textIn = 0
let binaryIn = 0
let bytesIn = 0
let textOut = 0
let binaryOut = 0
let bytesOut = 0
let pending = false
let timer: ReturnType<typeof setTimeout> | undefined = undefined

const flushLater = (): void => {
  timer = undefined
  flush()
}

export const flush = (): void => {
  if (!pending) return
  pending = false
  if (textIn > 0) text.updateUnsafe(textIn, context)
  if (binaryIn > 0) binary.updateUnsafe(binaryIn, context)
  if (bytesIn > 0) bytesReceived.updateUnsafe(bytesIn, context)
  if (textOut > 0) textSent.updateUnsafe(textOut, context)
  if (binaryOut > 0) binarySent.updateUnsafe(binaryOut, context)
  if (bytesOut > 0) bytesSent.updateUnsafe(bytesOut, context)
  textIn = 0
  binaryIn = 0
  bytesIn = 0
  textOut = 0
  binaryOut = 0
  bytesOut = 0
}

const schedule = (): void => {
  pending = true
  if (timer !== undefined) return
  timer = setTimeout(flushLater, 1000) // Node: the timer alone does not keep the process running
  ;(timer as { unref?: () => void }).unref?.()
}

export const received = (isBinary: boolean, bytes: number): void => {
  if (isBinary) binaryIn++
  else textIn++
  bytesIn += bytes
  schedule()
}

/** `count` messages of `bytes` each. */
export const sent = (isBinary: boolean, bytes: number, count: number): void => {
  if (isBinary) binaryOut += count
  else textOut += count
  bytesOut += bytes * count
  schedule()
}

const sendErrorSeries = {
  SocketClosed: counterSeries(sendErrors, { reason: "SocketClosed" }),
  Timeout: counterSeries(sendErrors, { reason: "Timeout" }),
  Backpressure: counterSeries(sendErrors, { reason: "Backpressure" }),
  Unknown: counterSeries(sendErrors, { reason: "Unknown" })
} as const

export const sendFailed = (reason: keyof typeof sendErrorSeries): void => {
  sendErrorSeries[reason].updateUnsafe(1, context)
}

export type Handler = "onInit" | "onMessage" | "onClose"
const handlerSeries = (handler: Handler): Metric.Histogram<number> =>
  Metric.histogram(handlerDuration.id, {
    description: handlerDuration.description,
    boundaries: handlerBoundaries,
    attributes: { handler }
  })
const handlerDurations = {
  onInit: handlerSeries("onInit"),
  onMessage: handlerSeries("onMessage"),
  onClose: handlerSeries("onClose")
} as const

/** `millis`, the handler's duration, is recorded in seconds. */
export const handled = (handler: Handler, millis: number): void => {
  handlerDurations[handler].updateUnsafe(millis / 1000, context)
}

export type Timeout = "heartbeat" | "idle" | "init" | "close"
const timeoutSeries = {
  heartbeat: counterSeries(timeouts, { kind: "heartbeat" }),
  idle: counterSeries(timeouts, { kind: "idle" }),
  init: counterSeries(timeouts, { kind: "init" }),
  close: counterSeries(timeouts, { kind: "close" })
} as const

export const timedOut = (kind: Timeout): void => {
  timeoutSeries[kind].updateUnsafe(1, context)
}

export type RateAction = "close" | "drop" | "pause"
const rateSeries = {
  close: counterSeries(rateLimited, { action: "close" }),
  drop: counterSeries(rateLimited, { action: "drop" }),
  pause: counterSeries(rateLimited, { action: "pause" })
} as const

export const limited = (action: RateAction): void => {
  rateSeries[action].updateUnsafe(1, context)
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
  pressureSeries[policy].updateUnsafe(1, context)
}

/**
 * The broadcast series of one topic label (publishes, deliveries, drops), what `topicLabel` returns and
 * the broadcast counters below take: opaque to the callers, as Effect 3's label arrays were.
 */
export interface TopicLabels {
  readonly published: Metric.Counter<number>
  readonly delivered: Metric.Counter<number>
  readonly dropped: Metric.Counter<number>
}

/**
 * The series of one broadcast topic label, made once each. The labels come from the layer's
 * `metricsTopic`, which maps the topics to a bounded set: the registry keeps every label it sees.
 */
const topicLabels = new Map<string, TopicLabels>()
export const topicLabel = (topic: string): TopicLabels => {
  let labels = topicLabels.get(topic)
  if (labels === undefined) {
    const attributes = { topic }
    labels = {
      published: counterSeries(broadcastPublishedTotal, attributes),
      delivered: counterSeries(broadcastDeliveredTotal, attributes),
      dropped: counterSeries(broadcastDroppedTotal, attributes)
    }
    topicLabels.set(topic, labels)
  }
  return labels
}

/**
 * A broadcast counter, updated by topic label as Effect 3's `unsafeUpdate(count, labels)` was (the call
 * sites of internal/broadcast.ts are the same): `count` added to the series of `labels`.
 */
export interface TopicCounter {
  readonly unsafeUpdate: (count: number, labels: TopicLabels) => void
}

/** Adds `count` publishes to a topic label's series. */
export const broadcastPublished: TopicCounter = {
  unsafeUpdate: (count, labels) => labels.published.updateUnsafe(count, context)
}
/** Adds `count` deliveries to a topic label's series. */
export const broadcastDelivered: TopicCounter = {
  unsafeUpdate: (count, labels) => labels.delivered.updateUnsafe(count, context)
}
/** Adds `count` drops to a topic label's series. */
export const broadcastDropped: TopicCounter = {
  unsafeUpdate: (count, labels) => labels.dropped.updateUnsafe(count, context)
}

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
