/**
 * What the library tells operators: its metrics, the spans it makes and the log annotations it sets,
 * by name. Nothing here needs wiring: the metrics are in Effect's default `MetricRegistry` (any
 * exporter that reads it, such as `effect/observability/OtlpMetrics` or `PrometheusMetrics`, or
 * `Metric.snapshot`, sees them), the spans go to the tracer the server runs with, and the annotations
 * reach whatever `Logger` is installed.
 *
 * - **Logs.** Every line logged inside a connection (its handlers', its selector's, the library's)
 *   carries the annotations `websocket.connection` (the connection's id) and `websocket.route` (the
 *   route's path pattern, such as `/rooms/:room`, or the request's path without a router). A handler
 *   failure is one error line with its cause; a protocol violation or a timeout is one info line with
 *   `websocket.closeCode` and `websocket.closeReason`; nothing is logged per message.
 * - **Spans.** With a tracer installed (`effect/observability/OtlpTracer`, `Effect.withTracer`, a
 *   `Layer` of `Tracer.Tracer`), each connection
 *   has a `websocket.connection` span (kind `server`), child of the upgrade request's span and parent
 *   of the handlers' own spans, from the handshake to the end of `onClose`. With Effect's built-in
 *   tracer, which exports nowhere, no span is made: an idle connection costs nothing for tracing.
 *   The route option `traceMessages: true` adds a `websocket.message` span around each `onMessage`.
 * - **Metrics.** `metrics` below: every name starts with `websocket_`, counters end in `_total`,
 *   sizes are bytes and durations seconds. A series is read with `Metric.withAttributes` (Effect 3's
 *   labels are Effect 4's attributes).
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Observability } from "effect-websocket"
 *
 * // how many connections are open now, as an exporter would read it
 * const open = Effect.map(Metric.value(Observability.metrics.connectionsOpen), (state) => state.value)
 *
 * // one series of a metric with attributes: the connections the peer closed with 1000
 * const byPeer = Metric.withAttributes(Observability.metrics.connectionsClosed, { code: "1000", initiator: "peer" })
 * const closedByPeer = Effect.map(Metric.value(byPeer), (state) => state.count)
 * ```
 *
 * @since 0.1.0
 */
import type * as Metric from "effect/Metric"
import * as internal from "./internal/metrics.js"
import * as trace from "./internal/trace.js"

/**
 * The library's metrics, each an `effect/Metric` (read one with `Metric.value`, a series of it with
 * `Metric.value(Metric.withAttributes(metric, { ... }))`, or all with `Metric.snapshot`), in Effect's
 * default `MetricRegistry`. Each update is of one series, by the attributes in the table (the labels of
 * Effect 3): the metric itself, without attributes, is the series of those that have none.
 *
 * | name | type | attributes | unit |
 * | --- | --- | --- | --- |
 * | `websocket_connections_open` | gauge | | connections |
 * | `websocket_connections_opened_total` | counter | | connections |
 * | `websocket_connections_closed_total` | counter | `code`, `initiator` | connections |
 * | `websocket_upgrades_rejected_total` | counter | `status` | requests |
 * | `websocket_messages_received_total` | counter | `kind` (`text`, `binary`) | messages |
 * | `websocket_messages_sent_total` | counter | `kind` | messages (broadcast deliveries included) |
 * | `websocket_received_bytes_total` | counter | | payload bytes |
 * | `websocket_sent_bytes_total` | counter | | payload bytes (before compression) |
 * | `websocket_send_errors_total` | counter | `reason` (`SendError`'s) | sends |
 * | `websocket_handler_duration_seconds` | histogram | `handler` (`onInit`, `onMessage`, `onClose`) | seconds |
 * | `websocket_timeouts_total` | counter | `kind` (`heartbeat`, `idle`, `init`, `close`) | timeouts |
 * | `websocket_backpressure_total` | counter | `direction`, `policy` | events |
 * | `websocket_rate_limited_total` | counter | `action` (`close`, `drop`, `pause`) | messages over `rateLimit` |
 * | `websocket_broadcast_published_total` | counter | `topic` | publishes |
 * | `websocket_broadcast_delivered_total` | counter | `topic` | messages written to subscribers |
 * | `websocket_broadcast_dropped_total` | counter | `topic` | messages a full subscriber missed |
 *
 * `websocket_backpressure_total` counts a full inbox (`direction="inbound"`, `policy="pause"`: the
 * loop stopped reading from the peer) and a full outbound buffer met by a send or a delivery
 * (`direction="outbound"`, `policy` what happened: `suspend`, `fail`, `close` or `drop`).
 * `websocket_rate_limited_total` counts the messages over a route's `rateLimit`, by what followed
 * (`pause` counts each time reading stopped). A broadcast `topic` label is `"*"` for every topic unless
 * the layer's `metricsTopic` says otherwise (`Broadcast.topicPrefix` labels by the part before the
 * first `:`; see `Broadcast.Options`): Effect's registry keeps every series it sees. Handler durations
 * are measured on the connection's `Clock` (a `TestClock` in tests), for handlers that complete. The
 * library updates the default registry whatever `Metric.MetricRegistry` or
 * `Metric.CurrentMetricAttributes` the server's fibers run with.
 *
 * @since 2.0.0
 * @category metrics
 */
export const metrics: {
  readonly connectionsOpen: Metric.Gauge<number>
  readonly connectionsOpened: Metric.Counter<number>
  readonly connectionsClosed: Metric.Counter<number>
  readonly upgradesRejected: Metric.Counter<number>
  readonly messagesReceived: Metric.Counter<number>
  readonly messagesSent: Metric.Counter<number>
  readonly bytesReceived: Metric.Counter<number>
  readonly bytesSent: Metric.Counter<number>
  readonly sendErrors: Metric.Counter<number>
  readonly handlerDuration: Metric.Histogram<number>
  readonly timeouts: Metric.Counter<number>
  readonly backpressure: Metric.Counter<number>
  readonly rateLimited: Metric.Counter<number>
  readonly broadcastPublished: Metric.Counter<number>
  readonly broadcastDelivered: Metric.Counter<number>
  readonly broadcastDropped: Metric.Counter<number>
} = {
  connectionsOpen: internal.connectionsOpen,
  connectionsOpened: internal.connectionsOpened,
  connectionsClosed: internal.connectionsClosed,
  upgradesRejected: internal.upgradesRejected,
  messagesReceived: internal.messagesReceived,
  messagesSent: internal.messagesSent,
  bytesReceived: internal.bytesReceived,
  bytesSent: internal.bytesSent,
  sendErrors: internal.sendErrors,
  handlerDuration: internal.handlerDuration,
  timeouts: internal.timeouts,
  backpressure: internal.backpressure,
  rateLimited: internal.rateLimited,
  broadcastPublished: internal.broadcastPublishedTotal,
  broadcastDelivered: internal.broadcastDeliveredTotal,
  broadcastDropped: internal.broadcastDroppedTotal
}

/**
 * The names of the spans the library makes.
 *
 * - `connection` (`"websocket.connection"`): one per connection, with a tracer installed.
 * - `message` (`"websocket.message"`): one per handled message, with the route option `traceMessages`.
 *
 * @since 0.1.0
 * @category spans
 */
export const spans: { readonly connection: string; readonly message: string } = {
  connection: trace.connectionSpan,
  message: trace.messageSpan
}

/**
 * The attributes of the library's spans.
 *
 * On `websocket.connection`, from the start: `websocket.route` (the path pattern),
 * `websocket.connection` (the connection's id), `client.address` (the peer's address, when known),
 * `websocket.protocol` (the subprotocol, when one was chosen). At the end: `websocket.close.code`,
 * `websocket.close.reason`, `websocket.close.initiator` (`CloseInfo`'s), `websocket.messages.received`
 * and `websocket.messages.sent` (messages), `websocket.bytes.received` and `websocket.bytes.sent`
 * (payload bytes; broadcast deliveries included in what was sent). The span ends as a failure when a
 * handler failed (close code 1011).
 *
 * On `websocket.message`: `websocket.message.kind` (`text`, `binary` or `custom`, a selector's value).
 *
 * @since 0.1.0
 * @category spans
 */
export const attributes: typeof trace.attributes = trace.attributes

/**
 * The log annotations set on every line logged inside a connection: `connection`
 * (`"websocket.connection"`, the connection's id) and `route` (`"websocket.route"`, the route's path
 * pattern). Lines about how a connection closed also carry `websocket.closeCode` and
 * `websocket.closeReason`.
 *
 * @since 0.1.0
 * @category logs
 */
export const annotations: {
  readonly connection: string
  readonly route: string
  readonly closeCode: string
  readonly closeReason: string
} = {
  connection: trace.annotationConnection,
  route: trace.annotationRoute,
  closeCode: trace.annotationCloseCode,
  closeReason: trace.annotationCloseReason
}
