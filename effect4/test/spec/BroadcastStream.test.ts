// A topic as a Stream (Broadcast.stream): a selector that transforms what the topic carries before it
// reaches one connection; live when the effect returns, bounded, ended with the connection; and
// numbered publishes across servers on the test kit's backplane. The Effect 4 driver's copy of
// test/spec/BroadcastStream.test.ts (the hub is shared; the driver's queues and streams are not).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result, Stream } from "effect"
import { Action, Broadcast, Connection, Testing, Upgrade } from "effect-websocket"
import { valueOf } from "../support/metrics.js"

/** Forwards the topic's texts that do not start with "secret", upper-cased; `stop` ends the stream. */
const filtered = (topic: string, capacity?: number) =>
  Upgrade.upgradeWebSocket({
    onInit: (connection) =>
      Effect.map(
        Effect.orDie(Broadcast.stream(connection, topic, { capacity })),
        (messages) =>
          Upgrade.initialWithSelector(
            null,
            messages.pipe(
              Stream.filter((m): m is string => typeof m === "string" && !m.startsWith("secret")),
              Stream.map((m) => m.toUpperCase())
            )
          )
      ),
    onMessage: (state, message, connection) =>
      message._tag === "CustomMessage"
        ? Effect.as(Effect.orDie(Connection.sendText(connection, message.value)), Action.continueConnection(state))
        : message._tag === "TextMessage" && message.text === "stop"
        ? Effect.succeed(Action.continueConnectionWithSelector(state, Stream.empty))
        : Effect.succeed(Action.continueConnection(state)),
    onClose: () => Effect.void
  }, { heartbeat: false, idleTimeout: false })

const text = (text: string) => ({ _tag: "Text", text }) as const

describe("Broadcast.stream", () => {
  it.effect("a topic's messages reach the handler as a selector, transformed and filtered", () =>
    Effect.gen(function*() {
      const client = yield* Testing.connectTo(filtered("news"), "/")
      yield* Broadcast.publish("news", "hello")
      yield* Broadcast.publish("news", "secret plan")
      yield* Broadcast.publish("news", new Uint8Array([1]))
      yield* Broadcast.publish("news", "bye")
      assert.deepStrictEqual(yield* client.receive, text("HELLO"))
      assert.deepStrictEqual(yield* client.receive, text("BYE"))
      yield* client.expectNoFrame("30 millis")
      assert.strictEqual(yield* Broadcast.subscriberCount("news"), 0, "a stream is not a socket subscriber")
      assert.deepStrictEqual(yield* Broadcast.topics, [], "nor does it count among the topics' sockets")
    }).pipe(Effect.provide(Layer.fresh(Broadcast.layer()))))

  it.effect("live when the effect returns: a publish right after onInit's stream reaches every client", () =>
    Effect.gen(function*() {
      for (let run = 0; run < 30; run++) {
        const topic = `run-${run}`
        const route = filtered(topic)
        const a = yield* Testing.connectTo(route, "/")
        const b = yield* Testing.connectTo(route, "/")
        yield* Broadcast.publish(topic, `m${run}`)
        assert.deepStrictEqual(yield* a.receive, text(`M${run}`))
        assert.deepStrictEqual(yield* b.receive, text(`M${run}`))
        yield* a.close(1000)
        yield* b.close(1000)
      }
    }).pipe(Effect.provide(Layer.fresh(Broadcast.layer()))))

  it.effect("except skips the connection's own stream", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const client = yield* Testing.connect({
        onInit: (connection) =>
          Effect.gen(function*() {
            const messages = yield* Effect.orDie(Broadcast.stream(connection, "t"))
            yield* Broadcast.publish("t", "own", { except: connection })
            yield* Broadcast.publish("t", "other")
            return Upgrade.initialWithSelector(null, messages)
          }),
        onMessage: (state, message) =>
          Effect.sync(() => {
            if (message._tag === "CustomMessage" && typeof message.value === "string") seen.push(message.value)
            return Action.continueConnection(state)
          }),
        onClose: () => Effect.void
      })
      for (let i = 0; i < 50 && seen.length === 0; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(seen, ["other"])
      yield* client.close(1000)
    }).pipe(Effect.provide(Layer.fresh(Broadcast.layer()))))

  it.effect("a full stream misses messages (counted by dropped) and never holds a publish", () =>
    Effect.gen(function*() {
      const droppedBefore = yield* valueOf("websocket_broadcast_dropped_total", { topic: "*" })
      const taken: Array<string> = []
      const client = yield* Testing.connect({
        onInit: (connection) =>
          Effect.gen(function*() {
            const messages = yield* Effect.orDie(Broadcast.stream(connection, "flood", { capacity: 2 }))
            // five publishes before the selector takes anything: two fit
            for (let i = 0; i < 5; i++) yield* Broadcast.publish("flood", `m${i}`)
            return Upgrade.initialWithSelector(null, messages)
          }),
        onMessage: (state, message) =>
          Effect.sync(() => {
            if (message._tag === "CustomMessage" && typeof message.value === "string") taken.push(message.value)
            return Action.continueConnection(state)
          }),
        onClose: () => Effect.void
      })
      for (let i = 0; i < 50 && taken.length < 2; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(taken, ["m0", "m1"])
      assert.strictEqual(yield* Broadcast.dropped("flood"), 3)
      // counted in the broadcast metrics as a socket's drops are
      assert.strictEqual(yield* valueOf("websocket_broadcast_dropped_total", { topic: "*" }), droppedBefore + 3)
      yield* client.close(1000)
    }).pipe(Effect.provide(Layer.fresh(Broadcast.layer()))))

  it.effect("under whenFull: \"close\", a full stream closes its connection with 1008", () =>
    Effect.gen(function*() {
      const client = yield* Testing.connect({
        onInit: (connection) =>
          Effect.gen(function*() {
            const messages = yield* Effect.orDie(Broadcast.stream(connection, "flood", { capacity: 1 }))
            yield* Broadcast.publish("flood", "a")
            yield* Broadcast.publish("flood", "b")
            return Upgrade.initialWithSelector(null, messages)
          }),
        onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
        onClose: () => Effect.void
      })
      const closed = yield* client.closed
      assert.strictEqual(closed.code, 1008)
    }).pipe(Effect.provide(Layer.fresh(Broadcast.layer({ whenFull: "close" })))))

  it.effect("the listening ends with the connection, and when the selector is replaced", () =>
    Effect.gen(function*() {
      // capacity 1: a stream still listening would miss (and count) the second and third message
      const a = yield* Testing.connectTo(filtered("t", 1), "/")
      const b = yield* Testing.connectTo(filtered("t", 1), "/")
      yield* a.close(1000)
      yield* a.closed
      // on Effect 4 the loop forks a selector lazily: a selector replaced before it first ran never
      // ran its stream, nor the stream's finalizer that stops the listening, so it listens until the
      // connection ends (the documented behaviour, see Broadcast.stream). b's selector gets a few
      // turns first, so that "stop" replaces a running one, whose listening must end then
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      yield* b.sendText("stop")
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      for (let i = 0; i < 3; i++) yield* Broadcast.publish("t", "after")
      yield* b.expectNoFrame("30 millis")
      assert.strictEqual(yield* Broadcast.dropped("t"), 0)
    }).pipe(Effect.provide(Layer.fresh(Broadcast.layer()))))

  it.effect("a stream taken for a connection that is ending is ended at once", () =>
    Effect.gen(function*() {
      const ended: Array<boolean> = []
      const client = yield* Testing.connect({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
        onClose: (_state, _info, connection) =>
          Effect.gen(function*() {
            const messages = yield* Effect.orDie(Broadcast.stream(connection, "late"))
            yield* Effect.orDie(Broadcast.publish("late", "unheard"))
            ended.push((yield* Stream.runCollect(messages)).length === 0)
          })
      })
      yield* client.close(1000)
      yield* client.closed
      for (let i = 0; i < 50 && ended.length === 0; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(ended, [true])
      assert.deepStrictEqual(yield* Broadcast.topics, [])
    }).pipe(Effect.provide(Layer.fresh(Broadcast.layer()))))

  it.effect("an invalid capacity fails with OptionsError", () =>
    Effect.gen(function*() {
      for (const capacity of [0, -1, 1.5, Number.NaN]) {
        const result = yield* Effect.result(Broadcast.stream(undefined as any, "t", { capacity }))
        assert.isTrue(Result.isFailure(result) && result.failure._tag === "OptionsError", String(capacity))
      }
    }).pipe(Effect.provide(Broadcast.layer())))

  it.effect("across servers on the backplane: a publish on one reaches the streams of the other, numbered", () =>
    Effect.gen(function*() {
      const backplane = yield* Testing.backplane
      const a = yield* backplane.node()
      const b = yield* backplane.node()
      const client = yield* Testing.connectTo(filtered("ticker"), "/").pipe(
        Effect.provideService(Broadcast.Broadcast, b.broadcast)
      )
      for (let i = 0; i < 3; i++) {
        yield* Broadcast.publish("ticker", (p) => `${p.stream}/${p.seq}`).pipe(
          Effect.provideService(Broadcast.Broadcast, a.broadcast)
        )
      }
      const frames = [yield* client.receive, yield* client.receive, yield* client.receive]
      const positions = frames.map((f) => (f as { text: string }).text.split("/"))
      assert.deepStrictEqual(positions.map(([, seq]) => seq), ["1", "2", "3"])
      assert.isTrue(positions[0][0].startsWith(a.id.toUpperCase()), "the stream is named after the publisher")
      // a cut server's publish fails, its local subscribers still get it
      yield* a.cut
      const failed = yield* Effect.result(
        Broadcast.publish("ticker", "lost").pipe(Effect.provideService(Broadcast.Broadcast, a.broadcast))
      )
      assert.isTrue(Result.isFailure(failed) && failed.failure._tag === "BroadcastError")
      yield* client.expectNoFrame("30 millis")
    }))
})
