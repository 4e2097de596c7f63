// The library's metrics through effect/Metric: connections (open, opened, closed by code and
// initiator), refused upgrades (by status), messages and bytes each way, send errors (by reason),
// handler durations, timeouts, backpressure, and broadcast publishes, deliveries and drops (by topic).
// Read by their public names, as an exporter would; other tests may share the registry, so every
// check is a difference.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric } from "effect"
import { Action, Broadcast, Connection, type Message, Observability, Testing, Upgrade } from "effect-websocket"
import { TestClock } from "effect/testing"
import { utf8Length } from "../../src/internal/metrics.js"
import { sleepers } from "../support/clock.js"
import { histogramOf, valueOf } from "../support/metrics.js"

const read = Effect.all({
  open: valueOf("websocket_connections_open"),
  opened: valueOf("websocket_connections_opened_total"),
  peer1000: valueOf("websocket_connections_closed_total", { code: "1000", initiator: "peer" }),
  server4000: valueOf("websocket_connections_closed_total", { code: "4000", initiator: "server" }),
  rejected503: valueOf("websocket_upgrades_rejected_total", { status: "503" }),
  rejected403: valueOf("websocket_upgrades_rejected_total", { status: "403" })
})

const echoNothing = {
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}

const route = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: () => Effect.orDie(Action.stopConnectionWith(4000, "done")),
  onClose: () => Effect.void
}, { heartbeat: false, idleTimeout: false })

describe("metrics", () => {
  it.effect("count connections opened, open and closed by code and initiator, and refused upgrades", () =>
    Effect.gen(function*() {
      const before = yield* read
      const peer = yield* Testing.connectTo(route, "/")
      const stopped = yield* Testing.connectTo(route, "/")
      const during = yield* read
      assert.strictEqual(during.opened - before.opened, 2)
      assert.strictEqual(during.open - before.open, 2)

      yield* peer.close(1000)
      yield* peer.closeInfo
      yield* stopped.sendText("stop")
      yield* stopped.closeInfo
      // one connection too many (503), and a handshake from another site (403)
      const refused = (app: typeof route, headers: Record<string, string>) =>
        Effect.flatMap(
          Effect.flip(Testing.connectTo(app, "/", { headers })),
          (error) => Effect.sync(() => ("response" in error ? error.response?.status : undefined))
        )
      const single = Upgrade.upgradeWebSocket(echoNothing, { maxConnections: 1 })
      yield* Testing.connectTo(single, "/")
      assert.strictEqual(yield* refused(single, {}), 503)
      assert.strictEqual(yield* refused(route, { origin: "https://elsewhere.example" }), 403)
      const after = yield* read
      assert.strictEqual(after.open - before.open, 1, "the single route's connection is still open")
      assert.strictEqual(after.peer1000 - before.peer1000, 1)
      assert.strictEqual(after.server4000 - before.server4000, 1)
      assert.strictEqual(after.rejected403 - before.rejected403, 1)
      assert.strictEqual(after.rejected503 - before.rejected503, 1)
    }))
})

/** Reads the metrics in `names` (each a name and attributes) now; `since` gives each one's growth since. */
const counters = <K extends string>(names: Record<K, readonly [string, Record<string, string>?]>) => {
  const keys = Object.keys(names) as Array<K>
  const read = Effect.forEach(keys, (key) => valueOf(names[key][0], names[key][1]))
  return Effect.map(read, (before) => ({
    since: Effect.map(read, (after) => {
      const grown = {} as Record<K, number>
      keys.forEach((key, i) => {
        grown[key] = after[i] - before[i]
      })
      return grown
    })
  }))
}

const quiet = { heartbeat: false, idleTimeout: false } as const

/** The values of the `topic` label that metric `name` has in the registry now, one per series. */
const topicLabels = (name: string) =>
  Effect.map(
    Metric.snapshot,
    (snapshots) =>
      snapshots.flatMap((snapshot) =>
        snapshot.id === name && snapshot.attributes?.topic !== undefined ? [snapshot.attributes.topic] : []
      )
  )

describe("message metrics", () => {
  it.effect("messages and bytes, each way, by kind", () =>
    Effect.gen(function*() {
      const metrics = yield* counters({
        textIn: ["websocket_messages_received_total", { kind: "text" }],
        binaryIn: ["websocket_messages_received_total", { kind: "binary" }],
        textOut: ["websocket_messages_sent_total", { kind: "text" }],
        binaryOut: ["websocket_messages_sent_total", { kind: "binary" }],
        bytesIn: ["websocket_received_bytes_total"],
        bytesOut: ["websocket_sent_bytes_total"]
      })
      const client = yield* Testing.connect({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
          Effect.as(
            Effect.orDie(
              message._tag === "TextMessage"
                ? Connection.sendText(connection, `${message.text}!`)
                : message._tag === "BinaryMessage"
                ? Connection.sendBinary(connection, message.data.subarray(1))
                : Effect.void
            ),
            Action.continueConnection(state)
          ),
        onClose: () => Effect.void
      }, { upgrade: quiet })
      yield* client.sendText("héllo") // 6 bytes
      yield* client.receive // 7 bytes
      yield* client.sendBinary(new Uint8Array([1, 2, 3]))
      yield* client.receive // 2 bytes
      yield* client.sendText("🙂") // 4 bytes
      yield* client.receive // 5 bytes
      assert.deepStrictEqual(yield* metrics.since, {
        textIn: 2,
        binaryIn: 1,
        textOut: 2,
        binaryOut: 1,
        bytesIn: 13,
        bytesOut: 14
      })
    }))

  it.effect("send errors by reason, and the outbound backpressure behind them", () =>
    Effect.gen(function*() {
      const metrics = yield* counters({
        backpressure: ["websocket_send_errors_total", { reason: "Backpressure" }],
        closed: ["websocket_send_errors_total", { reason: "SocketClosed" }],
        full: ["websocket_backpressure_total", { direction: "outbound", policy: "fail" }]
      })
      const closedAfter = yield* Deferred.make<void>()
      const client = yield* Testing.connect({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
          Effect.gen(function*() {
            if (message._tag !== "TextMessage") return Action.continueConnection(state)
            // the client reads nothing meanwhile: the first fills the buffer past 8 bytes
            for (let i = 0; i < 3; i++) yield* Effect.ignore(Connection.sendText(connection, "0123456789"))
            return Action.continueConnection(state)
          }),
        onClose: (_state, _info, connection) =>
          Effect.andThen(
            Effect.ignore(Connection.sendText(connection, "too late")),
            Deferred.succeed(closedAfter, void 0)
          )
      }, { upgrade: { ...quiet, outbound: { policy: "fail", highWaterMark: 8 } } })
      yield* client.sendText("go")
      yield* client.receive
      yield* client.close(1000)
      yield* Deferred.await(closedAfter)
      assert.deepStrictEqual(yield* metrics.since, { backpressure: 2, closed: 1, full: 2 })
    }))

  it.effect("handler durations, by handler, on the connection's clock", () =>
    Effect.gen(function*() {
      const before = {
        onInit: yield* histogramOf("websocket_handler_duration_seconds", { handler: "onInit" }),
        onMessage: yield* histogramOf("websocket_handler_duration_seconds", { handler: "onMessage" }),
        onClose: yield* histogramOf("websocket_handler_duration_seconds", { handler: "onClose" })
      }
      const closed = yield* Deferred.make<void>()
      const client = yield* Testing.connect({
        onInit: () => Effect.as(Effect.sleep("1 second"), Upgrade.initial(null)),
        onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
          Effect.gen(function*() {
            if (message._tag === "TextMessage" && message.text === "slow") yield* Effect.sleep("3 seconds")
            yield* Effect.orDie(Connection.sendText(connection, "done"))
            return Action.continueConnection(state)
          }),
        onClose: () => Deferred.succeed(closed, void 0)
      }, { upgrade: quiet })
      yield* sleepers(1)
      yield* TestClock.adjust("1 second")
      yield* client.sendText("quick")
      yield* client.receive
      yield* client.sendText("slow")
      yield* sleepers(1)
      yield* TestClock.adjust("3 seconds")
      yield* client.receive
      yield* client.close(1000)
      yield* Deferred.await(closed)
      const onInit = yield* histogramOf("websocket_handler_duration_seconds", { handler: "onInit" })
      const onMessage = yield* histogramOf("websocket_handler_duration_seconds", { handler: "onMessage" })
      const onClose = yield* histogramOf("websocket_handler_duration_seconds", { handler: "onClose" })
      assert.deepStrictEqual(
        { count: onInit.count - before.onInit.count, sum: onInit.sum - before.onInit.sum },
        { count: 1, sum: 1 }
      )
      assert.deepStrictEqual(
        { count: onMessage.count - before.onMessage.count, sum: onMessage.sum - before.onMessage.sum },
        { count: 2, sum: 3 }
      )
      assert.strictEqual(onClose.count - before.onClose.count, 1)
    }))

  it.effect("timeouts by kind: heartbeat, idle and onInit", () =>
    Effect.gen(function*() {
      const metrics = yield* counters({
        heartbeat: ["websocket_timeouts_total", { kind: "heartbeat" }],
        idle: ["websocket_timeouts_total", { kind: "idle" }],
        init: ["websocket_timeouts_total", { kind: "init" }]
      })
      const handlers = {
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
        onClose: () => Effect.void
      }
      const deaf = yield* Testing.connect(handlers, {
        autoPong: false,
        upgrade: { heartbeat: { interval: "1 second", timeout: "1 second" }, idleTimeout: false }
      })
      const idle = yield* Testing.connect(handlers, { upgrade: { heartbeat: false, idleTimeout: "5 seconds" } })
      const stuck = yield* Effect.forkChild(Testing.connect({ ...handlers, onInit: () => Effect.never }, {
        upgrade: { ...quiet, initTimeout: "3 seconds" }
      }))
      yield* sleepers(3)
      for (let i = 0; i < 6; i++) yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* deaf.closed).reason, "heartbeat timeout")
      assert.strictEqual((yield* idle.closed).reason, "idle timeout")
      assert.strictEqual((yield* (yield* Fiber.join(stuck)).closed).code, 1011)
      assert.deepStrictEqual(yield* metrics.since, { heartbeat: 1, idle: 1, init: 1 })
    }))

  it.effect("inbound backpressure: the loop stops reading while its inbox is full", () =>
    Effect.gen(function*() {
      const metrics = yield* counters({
        paused: ["websocket_backpressure_total", { direction: "inbound", policy: "pause" }]
      })
      const release = yield* Deferred.make<void>()
      const client = yield* Testing.connect({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, _message: Message.Message<never>, connection: Connection.Connection) =>
          Effect.gen(function*() {
            yield* Deferred.await(release)
            yield* Effect.orDie(Connection.sendText(connection, "handled"))
            return Action.continueConnection(state)
          }),
        onClose: () => Effect.void
      }, { upgrade: { ...quiet, inboxCapacity: 2 } })
      // the first is being handled; the next two fill the inbox
      const sending = yield* Effect.forkChild(Effect.forEach([1, 2, 3, 4], (i) => client.sendText(`${i}`)))
      for (let i = 0; i < 100 && (yield* metrics.since).paused === 0; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(yield* metrics.since, { paused: 1 })
      yield* Deferred.succeed(release, void 0)
      yield* Fiber.join(sending)
      for (let i = 0; i < 4; i++) yield* client.receive
    }))
})

describe("payload sizes", () => {
  it("counted in JavaScript where there is no Buffer, as Buffer counts them", () => {
    for (const text of ["", "abc", "héllo", "🙂", "a\ud800b", "\udc00", "日本語 text", "x".repeat(300) + "é"]) {
      assert.strictEqual(utf8Length(text), Buffer.byteLength(text, "utf8"), JSON.stringify(text))
    }
  })
})

describe("broadcast metrics", () => {
  const room = (options?: Upgrade.Options) =>
    Upgrade.upgradeWebSocket({
      onInit: (connection) => Effect.as(Broadcast.subscribe(connection, "room:a"), Upgrade.initial(null)),
      onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
      onClose: () => Effect.void
    }, { ...quiet, ...options })

  it.effect("publishes, deliveries and drops, by the topic's prefix with topicPrefix (room:a counts as room)", () =>
    Effect.gen(function*() {
      const metrics = yield* counters({
        published: ["websocket_broadcast_published_total", { topic: "room" }],
        delivered: ["websocket_broadcast_delivered_total", { topic: "room" }],
        dropped: ["websocket_broadcast_dropped_total", { topic: "room" }],
        sent: ["websocket_messages_sent_total", { kind: "text" }],
        full: ["websocket_backpressure_total", { direction: "outbound", policy: "drop" }]
      })
      const route = room({ outbound: { highWaterMark: 64 } })
      const slow = yield* Testing.connectTo(route, "/")
      const fast = yield* Testing.connectTo(route, "/")
      const payload = "x".repeat(40)
      for (let i = 0; i < 4; i++) {
        yield* Broadcast.publish("room:a", `${i}${payload}`)
        yield* fast.receive
      }
      yield* Broadcast.publish("room:nobody", "unheard")
      // the slow one read nothing: two filled its buffer past 64 bytes, the next two were dropped
      assert.deepStrictEqual(yield* metrics.since, { published: 5, delivered: 6, dropped: 2, sent: 6, full: 2 })
      assert.strictEqual((yield* slow.receive)._tag, "Text")
    }).pipe(Effect.provide(Broadcast.layer({ metricsTopic: Broadcast.topicPrefix }))))

  it.effect("by default every topic has the same label, *: topics named from user input add no series", () =>
    Effect.gen(function*() {
      const labelsBefore = yield* topicLabels("websocket_broadcast_published_total")
      const metrics = yield* counters({
        published: ["websocket_broadcast_published_total", { topic: "*" }],
        delivered: ["websocket_broadcast_delivered_total", { topic: "*" }]
      })
      // rooms as a user names them, from a URL: no prefix, no `:`
      const rooms = Array.from({ length: 500 }, (_, i) => `my room ${i}`)
      const client = yield* Testing.connect({
        onInit: (connection) =>
          Effect.as(
            Effect.forEach(rooms.slice(0, 10), (room) => Broadcast.subscribe(connection, room)),
            Upgrade.initial(null)
          ),
        onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
        onClose: () => Effect.void
      }, { upgrade: quiet })
      for (const room of rooms) yield* Broadcast.publish(room, "hello")
      for (let i = 0; i < 10; i++) yield* client.receive
      assert.deepStrictEqual(yield* metrics.since, { published: 500, delivered: 10 })
      const added = (yield* topicLabels("websocket_broadcast_published_total")).filter((label) =>
        !labelsBefore.includes(label)
      )
      assert.isAtMost(added.length, 1, `new topic labels: ${added.slice(0, 5).join(", ")}...`)
      for (const name of ["websocket_broadcast_published_total", "websocket_broadcast_delivered_total"]) {
        assert.notInclude(yield* topicLabels(name), "my room 0", name)
      }
    }).pipe(Effect.provide(Broadcast.layer())))

  it.effect("metricsTopic names the topic label", () =>
    Effect.gen(function*() {
      const metrics = yield* counters({
        exact: ["websocket_broadcast_published_total", { topic: "news:today" }],
        delivered: ["websocket_broadcast_delivered_total", { topic: "news:today" }]
      })
      const client = yield* Testing.connect({
        onInit: (connection) => Effect.as(Broadcast.subscribe(connection, "news:today"), Upgrade.initial(null)),
        onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
        onClose: () => Effect.void
      }, { upgrade: quiet })
      yield* Broadcast.publish("news:today", "hello")
      yield* client.receive
      assert.deepStrictEqual(yield* metrics.since, { exact: 1, delivered: 1 })
    }).pipe(Effect.provide(Broadcast.layer({ metricsTopic: (topic) => topic }))))
})

describe("Observability module", () => {
  it.effect("exposes the metrics the library updates, by the names an exporter shows", () =>
    Effect.gen(function*() {
      const before = yield* valueOf("websocket_connections_opened_total")
      const client = yield* Effect.scoped(Testing.connect({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
        onClose: () => Effect.void
      }, { upgrade: quiet }))
      assert.isDefined(client)
      const state = yield* Metric.value(Observability.metrics.connectionsOpened)
      assert.strictEqual(state.count, yield* valueOf("websocket_connections_opened_total"))
      assert.isAbove(state.count, before)
    }))

  it.effect("a series of a metric with attributes is Metric.withAttributes of the exposed metric", () =>
    Effect.gen(function*() {
      const series = Metric.withAttributes(Observability.metrics.upgradesRejected, { status: "403" })
      const before = (yield* Metric.value(series)).count
      const error = yield* Effect.flip(
        Testing.connectTo(route, "/", { headers: { origin: "https://elsewhere.example" } })
      )
      assert.strictEqual("response" in error ? error.response?.status : undefined, 403)
      const after = (yield* Metric.value(series)).count
      assert.strictEqual(after - before, 1)
      assert.strictEqual(after, yield* valueOf("websocket_upgrades_rejected_total", { status: "403" }))
    }))
})
