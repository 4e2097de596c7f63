// The library's series are plain cells the registry reads (internal/metrics.ts): what Metric.snapshot
// and Metric.value report of them must be what Effect's own counters, gauges and histograms report
// after the same updates. Each check compares a library series with an Effect metric of another name
// fed the same values, in this file's own module instance (vitest isolates files).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import * as Metrics from "../../src/internal/metrics.js"

const stateOf = (id: string, attributes: Record<string, string> = {}) =>
  Effect.map(Metric.snapshot, (snapshots) =>
    snapshots.find((snapshot) =>
      snapshot.id === id &&
      Object.entries(attributes).every(([key, value]) => snapshot.attributes?.[key] === value)
    )?.state)

describe("metric cells", () => {
  it.effect("a series is registered at its first update, not before", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* stateOf("websocket_timeouts_total", { kind: "idle" }))
      Metrics.timedOut("idle")
      Metrics.timedOut("idle")
      assert.deepStrictEqual(yield* stateOf("websocket_timeouts_total", { kind: "idle" }), {
        count: 2,
        incremental: true
      })
    }))

  it.effect("a handler-duration histogram reads as Effect's histogram of the same values", () =>
    Effect.gen(function*() {
      const reference = Metric.histogram("test_reference_histogram", {
        boundaries: Metric.exponentialBoundaries({ start: 0.0001, factor: 4, count: 10 })
      })
      // below the first boundary, on boundaries, between them, past the last finite one
      const millis = [0.01, 0.1, 0.4, 0.5, 3, 25.6, 26, 999, 30_000, 0]
      for (const value of millis) {
        Metrics.handled("onClose", value)
        yield* Metric.update(reference, value / 1000)
      }
      const ours = yield* stateOf("websocket_handler_duration_seconds", { handler: "onClose" })
      const theirs = yield* stateOf("test_reference_histogram")
      assert.deepStrictEqual(ours, theirs)
    }))

  it.effect("the open-connections gauge and the counters read through Metric.value", () =>
    Effect.gen(function*() {
      const before = (yield* Metric.value(Metrics.connectionsOpen)).value
      Metrics.opened()
      Metrics.opened()
      Metrics.closed({ code: 1000, reason: "", initiator: "peer" })
      assert.strictEqual((yield* Metric.value(Metrics.connectionsOpen)).value, before + 1)
      const opened = yield* Metric.value(Metrics.connectionsOpened)
      assert.isAtLeast(opened.count, 2)
      Metrics.received(false, 5)
      Metrics.received(true, 7)
      Metrics.sent(false, 3, 4)
      const bytesIn = yield* Metric.value(Metrics.bytesReceived)
      const bytesOut = yield* Metric.value(Metrics.bytesSent)
      assert.strictEqual(bytesIn.count, 12)
      assert.strictEqual(bytesOut.count, 12)
      assert.deepStrictEqual(yield* stateOf("websocket_messages_sent_total", { kind: "text" }), {
        count: 4,
        incremental: true
      })
    }))

  it.effect("broadcast series by topic label", () =>
    Effect.gen(function*() {
      const labels = Metrics.topicLabel("room")
      assert.strictEqual(Metrics.topicLabel("room"), labels)
      Metrics.broadcastPublished.unsafeUpdate(1, labels)
      Metrics.broadcastDelivered.unsafeUpdate(3, labels)
      assert.deepStrictEqual(yield* stateOf("websocket_broadcast_delivered_total", { topic: "room" }), {
        count: 3,
        incremental: true
      })
      assert.isUndefined(yield* stateOf("websocket_broadcast_dropped_total", { topic: "room" }))
    }))
})
