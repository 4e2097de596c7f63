/**
 * Connection metrics, through `effect/Metric` (the global registry, so any exporter, such as
 * @effect/opentelemetry's, sees them). Updated once per connection event, never per message.
 */
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import type { CloseInfo } from "../Connection.js"

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

const none: ReadonlyArray<MetricLabel.MetricLabel> = []

export const opened = (): void => {
  connectionsOpen.unsafeModify(1, none)
  connectionsOpened.unsafeUpdate(1, none)
}

export const closed = (info: CloseInfo): void => {
  connectionsOpen.unsafeModify(-1, none)
  connectionsClosed.unsafeUpdate(1, [
    MetricLabel.make("code", String(info.code)),
    MetricLabel.make("initiator", info.initiator)
  ])
}

export const rejected = (status: number): void => {
  upgradesRejected.unsafeUpdate(1, [MetricLabel.make("status", String(status))])
}
