import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Ref, Stream } from "effect"
import { Action, Connection, type Message, Testing, Upgrade } from "effect-websocket"
import { TestClock } from "effect/testing"
import { countingClock, sleepers } from "../support/clock.js"
import { echo } from "../support/echo.js"
import { valueOf } from "../support/metrics.js"

describe("liveness", () => {
  describe("heartbeat", () => {
    it.effect("pings every interval; a peer that answers stays connected", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo(), {
          upgrade: { heartbeat: { interval: "10 seconds", timeout: "3 seconds" }, idleTimeout: false }
        })
        yield* sleepers(1)
        assert.strictEqual(yield* client.pings, 0)
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* client.pings, 1)
        // one every interval (not interval + timeout): 30 s with the defaults
        for (let i = 0; i < 5; i++) {
          yield* sleepers(1)
          yield* TestClock.adjust("10 seconds")
        }
        assert.strictEqual(yield* client.pings, 6)
        yield* client.sendText("still here")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "still here" })
      }))

    it.effect("by default a quiet peer that answers every ping stays (no idle timeout): the heartbeat proves it alive", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo())
        for (let i = 0; i < 30; i++) {
          yield* sleepers(1)
          yield* TestClock.adjust("1 minute")
        }
        assert.isAtLeast(yield* client.pings, 20)
        yield* client.sendText("after half an hour")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "after half an hour" })
      }))

    it.effect("closes a peer whose pong does not come within the timeout: 1001, initiator timeout", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo(), {
          autoPong: false,
          upgrade: { heartbeat: { interval: "10 seconds", timeout: "3 seconds" }, idleTimeout: false }
        })
        yield* sleepers(1)
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* client.pings, 1)
        yield* sleepers(1)
        const closed = yield* Effect.forkChild(client.closed)
        yield* TestClock.adjust("2999 millis")
        assert.isUndefined(closed.pollUnsafe(), "not before the timeout")
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(yield* Fiber.join(closed), { code: 1001, reason: "heartbeat timeout" })
        assert.deepStrictEqual(yield* client.closeInfo, {
          code: 1001,
          reason: "heartbeat timeout",
          initiator: "timeout"
        })
      }))
  })

  describe("one sweep per route", () => {
    const route = Upgrade.upgradeWebSocket(echo(), {
      heartbeat: { interval: "10 seconds", timeout: "3 seconds" },
      idleTimeout: false,
      initTimeout: "1 hour"
    })
    /** The wake-up times of the sleeps pending on the TestClock (Effect 3's `TestClock.sleeps()`). */
    const pendingSleeps = sleepers(0)
    /** Sleeps of liveness timers: an `onInit` that suspended would add one an hour out. */
    const timerSleeps = Effect.map(
      pendingSleeps,
      (sleeps) => sleeps.filter((instant) => instant < 3_600_000).length
    )

    it.effect("watches every connection of a route with one sleeping fiber, each on its own schedule", () =>
      Effect.gen(function*() {
        const first = yield* Testing.connectTo(route, "/")
        yield* sleepers(1)
        assert.strictEqual((yield* pendingSleeps).length, 1, "an onInit that completes at once sets no timer")
        yield* TestClock.adjust("4 seconds")
        const second = yield* Testing.connectTo(route, "/")
        yield* second.sendText("up")
        yield* second.receive // its loop runs: its timers started
        yield* Effect.repeat(Effect.yieldNow, { times: 20 })
        assert.strictEqual(yield* timerSleeps, 1, "the second connection parks no timer of its own")
        yield* TestClock.adjust("6 seconds") // 10 s: the first connection's ping
        assert.deepStrictEqual([yield* first.pings, yield* second.pings], [1, 0])
        yield* TestClock.adjust("4 seconds") // 14 s: the second's, one interval after it connected
        assert.deepStrictEqual([yield* first.pings, yield* second.pings], [1, 1])
        yield* TestClock.adjust("9 seconds") // 23 s: the first's pong came by 13 s, so its next ping
        assert.deepStrictEqual([yield* first.pings, yield* second.pings], [2, 1])
        assert.strictEqual(yield* timerSleeps, 1)
      }))

    it.effect("a timed-out connection leaves the others watched", () =>
      Effect.gen(function*() {
        const silent = yield* Testing.connectTo(route, "/", { autoPong: false })
        const answering = yield* Testing.connectTo(route, "/")
        yield* sleepers(1)
        yield* TestClock.adjust("13 seconds")
        assert.deepStrictEqual(yield* silent.closed, { code: 1001, reason: "heartbeat timeout" })
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* answering.pings, 2)
        yield* answering.sendText("still here")
        assert.deepStrictEqual(yield* answering.receive, { _tag: "Text", text: "still here" })
      }))

    it.effect("the sweep stops with the last connection (no timer left), and a later connection starts a new one", () => {
      const { counting, sleeping } = countingClock()
      // an onInit that suspended would sleep too (its timeout), until it is done
      const settled = (n: number) =>
        Effect.sync(sleeping).pipe(
          Effect.tap(() => Effect.yieldNow),
          Effect.repeat({ until: (m) => m === n, times: 1000 })
        )
      return Effect.clockWith((inner) =>
        Effect.provideService(
          Effect.gen(function*() {
            const client = yield* Testing.connectTo(route, "/")
            const other = yield* Testing.connectTo(route, "/")
            assert.strictEqual(yield* settled(1), 1, "one timer for both connections")
            yield* client.close(1000, "bye")
            yield* client.closed
            assert.strictEqual(yield* settled(1), 1, "still watching the other")
            yield* other.close(1000, "bye")
            yield* other.closed
            assert.strictEqual(yield* settled(0), 0, "no timer once no connection is left")
            const later = yield* Testing.connectTo(route, "/")
            assert.strictEqual(yield* settled(1), 1)
            yield* (inner as TestClock.TestClock).adjust("10 seconds")
            assert.strictEqual(yield* later.pings, 1)
          }),
          Clock.Clock,
          counting(inner)
        )
      )
    })

    it.effect("sweeps at most ten times a second, however close together the deadlines fall", () => {
      const { counting, started } = countingClock()
      const idleRoute = Upgrade.upgradeWebSocket(echo(), {
        heartbeat: false,
        idleTimeout: "1 second",
        initTimeout: "1 hour",
        closeTimeout: "1 hour"
      })
      // the sweep's sleeps; onInit's and the closing handshake's timeouts sleep an hour
      const sweeps = () => started.filter((millis) => millis < 3_600_000).length
      return Effect.clockWith((inner) => {
        const testClock = inner as TestClock.TestClock
        return Effect.provideService(
          Effect.gen(function*() {
            const clients: Array<Testing.TestClient> = []
            for (let i = 0; i < 20; i++) {
              clients.push(yield* Testing.connectTo(idleRoute, "/"))
              yield* Effect.repeat(Effect.yieldNow, { times: 5 })
              yield* testClock.adjust("10 millis") // idle deadlines 10 ms apart: 1000, 1010, ... 1190 ms
            }
            const before = sweeps()
            yield* testClock.adjust("1100 millis") // 1290 ms: the last deadline plus the 100 ms allowance
            for (const client of clients) {
              assert.deepStrictEqual(yield* client.closeInfo, {
                code: 1001,
                reason: "idle timeout",
                initiator: "timeout"
              })
            }
            // without the rate limit the sweep would wake for each of the 20 deadlines
            assert.isAtMost(sweeps() - before, 3)
          }),
          Clock.Clock,
          counting(inner)
        )
      })
    })
  })

  describe("idleTimeout", () => {
    it.effect("closes after no data frame either way for idleTimeout; traffic in both directions resets it", () =>
      Effect.gen(function*() {
        const said = yield* Deferred.make<Connection.Connection>()
        const client = yield* Testing.connect({
          ...echo(),
          onInit: (connection) => Effect.as(Deferred.succeed(said, connection), Upgrade.initial(0))
        }, { upgrade: { heartbeat: false, idleTimeout: "1 minute" } })
        const connection = yield* Deferred.await(said)
        yield* sleepers(1)
        yield* TestClock.adjust("50 seconds")
        yield* client.sendText("inbound") // resets at 50 s
        yield* client.receive
        yield* TestClock.adjust("50 seconds")
        yield* Connection.sendText(connection, "outbound") // resets at 100 s
        yield* TestClock.adjust("59 seconds")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "outbound" })
        const closed = yield* Effect.forkChild(client.closed)
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* Fiber.join(closed), { code: 1001, reason: "idle timeout" })
        assert.deepStrictEqual(yield* client.closeInfo, { code: 1001, reason: "idle timeout", initiator: "timeout" })
      }))
  })

  describe("initTimeout", () => {
    it.effect("interrupts a slow onInit, closes with 1011, and drops what arrived meanwhile", () =>
      Effect.gen(function*() {
        const interrupted = yield* Deferred.make<void>()
        const handled = yield* Ref.make(0)
        const closes = yield* Ref.make(0)
        const client = yield* Testing.connect({
          onInit: () =>
            Effect.never.pipe(
              Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)),
              Effect.as(Upgrade.initial(0))
            ),
          onMessage: (count: number) => Effect.as(Ref.update(handled, (n) => n + 1), Action.continueConnection(count)),
          onClose: () => Ref.update(closes, (n) => n + 1)
        }, { upgrade: { initTimeout: "5 seconds", heartbeat: false, idleTimeout: false } })
        yield* client.sendText("early")
        yield* sleepers(1)
        yield* TestClock.adjust("5 seconds")
        assert.deepStrictEqual(yield* client.closed, { code: 1011, reason: "onInit timed out" })
        assert.deepStrictEqual(yield* client.closeInfo, {
          code: 1011,
          reason: "onInit timed out",
          initiator: "timeout"
        })
        yield* Deferred.await(interrupted)
        assert.strictEqual(yield* Ref.get(handled), 0, "nothing is handled without a state")
        assert.strictEqual(yield* Ref.get(closes), 0, "no state, so no onClose; onInit's own finalisers ran")
      }))

    it.effect("an onInit that suspends and completes in time cancels its deadline; the connection goes on", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect({
          ...echo(),
          onInit: () => Effect.as(Effect.sleep("2 seconds"), Upgrade.initial(0))
        }, { upgrade: { initTimeout: "5 seconds", heartbeat: false, idleTimeout: false } })
        yield* sleepers(2) // onInit's sleep and its deadline
        yield* TestClock.adjust("2 seconds")
        yield* client.sendText("ready")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "ready" })
        yield* TestClock.adjust("10 seconds") // past the deadline: it was cancelled
        yield* client.sendText("still open")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "still open" })
      }))
  })
})

describe("backpressure", () => {
  /** A producer that sends 1 KiB frames until a send fails, recording each outcome and the queue. */
  const producer = (outcomes: Ref.Ref<ReadonlyArray<string>>, maxBuffered: Ref.Ref<number>) => ({
    onInit: () => Effect.succeed(Upgrade.initial(null)),
    onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
      Effect.gen(function*() {
        if (message._tag !== "TextMessage") return Action.continueConnection(state)
        for (let i = 0; i < 100; i++) {
          const result = yield* Effect.result(Connection.sendText(connection, "x".repeat(1024)))
          yield* Ref.update(maxBuffered, (max) => Math.max(max, 0))
          const buffered = yield* Connection.bufferedAmount(connection)
          yield* Ref.update(maxBuffered, (max) => Math.max(max, buffered))
          yield* Ref.update(outcomes, (all) => [...all, result._tag === "Success" ? "sent" : result.failure.reason])
          if (result._tag === "Failure") break
        }
        return Action.continueConnection(state)
      }),
    onClose: () => Effect.void
  })

  const setup = (policy: "suspend" | "fail" | "close") =>
    Effect.gen(function*() {
      const outcomes = yield* Ref.make<ReadonlyArray<string>>([])
      const maxBuffered = yield* Ref.make(0)
      const client = yield* Testing.connect(producer(outcomes, maxBuffered), {
        upgrade: {
          heartbeat: false,
          idleTimeout: false,
          outbound: { highWaterMark: 8 * 1024, policy, sendTimeout: "10 seconds" }
        }
      })
      return { client, outcomes, maxBuffered }
    })

  it.effect("fail: a send over the high-water mark fails at once with Backpressure", () =>
    Effect.gen(function*() {
      const { client, maxBuffered, outcomes } = yield* setup("fail")
      yield* client.sendText("go") // the client then reads nothing: a paused peer
      yield* Effect.repeat(Ref.get(outcomes), { until: (all) => all.at(-1) === "Backpressure" })
      assert.deepStrictEqual(yield* Ref.get(outcomes), [...Array(8).fill("sent"), "Backpressure"])
      assert.isAtMost(yield* Ref.get(maxBuffered), 8 * 1024 + 1024, "never past the mark by more than one message")
    }))

  it.effect("suspend: a send waits for the peer to read, then goes out; without reading it times out", () =>
    Effect.gen(function*() {
      const { client, maxBuffered, outcomes } = yield* setup("suspend")
      yield* client.sendText("go")
      yield* Effect.repeat(Ref.get(outcomes), { until: (all) => all.length === 8 })
      yield* sleepers(1)
      assert.strictEqual((yield* Ref.get(outcomes)).length, 8, "the ninth send is waiting")
      for (let i = 0; i < 4; i++) yield* client.receive // the peer reads four frames
      yield* Effect.repeat(Ref.get(outcomes), { until: (all) => all.length === 12 })
      yield* sleepers(1)
      yield* TestClock.adjust("10 seconds")
      yield* Effect.repeat(Ref.get(outcomes), { until: (all) => all.at(-1) === "Timeout" })
      assert.deepStrictEqual(yield* Ref.get(outcomes), [...Array(12).fill("sent"), "Timeout"])
      assert.isAtMost(yield* Ref.get(maxBuffered), 8 * 1024 + 1024)
    }))

  it.effect("close: a send over the mark fails with Backpressure and the connection closes with 1008", () =>
    Effect.gen(function*() {
      const { client, outcomes } = yield* setup("close")
      yield* client.sendText("go")
      assert.deepStrictEqual(yield* client.closed, { code: 1008, reason: "outbound buffer full" })
      assert.deepStrictEqual(yield* client.closeInfo, {
        code: 1008,
        reason: "outbound buffer full",
        initiator: "error"
      })
      assert.deepStrictEqual(yield* Ref.get(outcomes), [...Array(8).fill("sent"), "Backpressure"])
    }))
})

describe("bounded inbox", () => {
  // the loop takes a whole batch at each wake-up, so a connection holds at most two inboxes' worth:
  // the batch being handled and a full inbox
  it.effect("at capacity the transport stops reading: the peer's sends wait, then all arrive in order", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const client = yield* Testing.connect({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, message: Message.Message<never>) =>
          Effect.gen(function*() {
            yield* Deferred.await(release)
            if (message._tag === "TextMessage") yield* Ref.update(seen, (all) => [...all, message.text])
            return Action.continueConnection(state)
          }),
        onClose: () => Effect.void
      }, { upgrade: { inboxCapacity: 4, heartbeat: false, idleTimeout: false } })
      const sent = yield* Ref.make(0)
      const sender = yield* Effect.forkChild(Effect.forEach(
        Array.from({ length: 30 }, (_, i) => `m${i}`),
        (text) => Effect.andThen(client.sendText(text), Ref.update(sent, (n) => n + 1))
      ))
      yield* Effect.repeat(Ref.get(sent), { until: (n) => n >= 5 })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.isAtMost(yield* Ref.get(sent), 2 * 4, "the peer is held back once the inbox is full")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(sender)
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 30 })
      assert.deepStrictEqual(yield* Ref.get(seen), Array.from({ length: 30 }, (_, i) => `m${i}`))
    }))

  it.effect("at inboxBytes the transport stops reading, whatever the count: a waiting handler holds that many bytes", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const seen = yield* Ref.make<ReadonlyArray<number>>([])
      const client = yield* Testing.connect({
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state: null, message: Message.Message<never>) =>
          Effect.gen(function*() {
            yield* Deferred.await(release)
            if (message._tag === "BinaryMessage") yield* Ref.update(seen, (all) => [...all, message.data[0]])
            return Action.continueConnection(state)
          }),
        onClose: () => Effect.void
      }, { upgrade: { inboxCapacity: 1024, inboxBytes: 3000, maxMessageSize: 1000, heartbeat: false } })
      const sent = yield* Ref.make(0)
      const sender = yield* Effect.forkChild(Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => Effect.andThen(client.sendBinary(new Uint8Array(1000).fill(i)), Ref.update(sent, (n) => n + 1))
      ))
      yield* Effect.repeat(Ref.get(sent), { until: (n) => n >= 3 })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      // the message that reaches the bound is accepted whole: at most inboxBytes + one message
      assert.isAtMost(yield* Ref.get(sent), 3000 / 1000 + 1, "the peer is held back at inboxBytes")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(sender)
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 40 })
      assert.deepStrictEqual(yield* Ref.get(seen), Array.from({ length: 40 }, (_, i) => i))
    }))

  it.effect("a peer that sends and never reads, on an echo route: what the connection holds stays bounded", () =>
    Effect.gen(function*() {
      const size = 1000
      // inboxBytes defaults to maxMessageSize: one message waiting for the handler, as ws hands over one
      const client = yield* Testing.connect(echo({ binary: "echo" }), {
        upgrade: { maxMessageSize: size, outbound: { highWaterMark: 2 * size }, heartbeat: false }
      })
      const sent = yield* Ref.make(0)
      const sender = yield* Effect.forkChild(Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => Effect.andThen(client.sendBinary(new Uint8Array(size).fill(i)), Ref.update(sent, (n) => n + 1))
      ))
      yield* Effect.repeat(Ref.get(sent), { until: (n) => n >= 3 })
      for (let i = 0; i < 50; i++) yield* Effect.yieldNow
      // the worst case the README states: inboxBytes + one message in, highWaterMark + one message out
      const bound = (size + size) + (2 * size + size)
      assert.isAtMost((yield* Ref.get(sent)) * size, bound)
      // once the peer reads, everything it sent comes back, in order: nothing was dropped
      for (let i = 0; i < 200; i++) {
        const frame = yield* client.receive
        assert.strictEqual(frame._tag === "Binary" && frame.data[0], i % 256)
      }
      yield* Fiber.join(sender)
    }))

  it.effect("a selector stream is suspended, not dropped, while the inbox is full", () =>
    Effect.gen(function*() {
      const pulled = yield* Ref.make(0)
      const release = yield* Deferred.make<void>()
      const seen = yield* Ref.make<ReadonlyArray<number>>([])
      yield* Testing.connect({
        onInit: () =>
          Effect.succeed(Upgrade.initialWithSelector(
            null,
            Stream.iterate(0, (n) => n + 1).pipe(
              Stream.take(50),
              Stream.tap(() => Ref.update(pulled, (n) => n + 1)),
              Stream.rechunk(1)
            )
          )),
        onMessage: (state: null, message: Message.Message<number>) =>
          Effect.gen(function*() {
            yield* Deferred.await(release)
            if (message._tag === "CustomMessage") yield* Ref.update(seen, (all) => [...all, message.value])
            return Action.continueConnection(state)
          }),
        onClose: () => Effect.void
      }, { upgrade: { inboxCapacity: 4, heartbeat: false, idleTimeout: false } })
      yield* Effect.repeat(Ref.get(pulled), { until: (n) => n >= 5 })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.isAtMost(yield* Ref.get(pulled), 2 * 4 + 1, "the stream is not pulled while the inbox is full")
      yield* Deferred.succeed(release, undefined)
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 50 })
      assert.deepStrictEqual(yield* Ref.get(seen), Array.from({ length: 50 }, (_, i) => i))
    }))
})

describe("rate limit", () => {
  /** A route that records the text messages it handles. */
  const recording = (seen: Ref.Ref<ReadonlyArray<string>>) => ({
    onInit: () => Effect.succeed(Upgrade.initial(null)),
    onMessage: (state: null, message: Message.Message<never>) =>
      Effect.as(
        message._tag === "TextMessage" ? Ref.update(seen, (all) => [...all, message.text]) : Effect.void,
        Action.continueConnection(state)
      ),
    onClose: () => Effect.void
  })
  const texts = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `m${from + i}`)

  it.effect("close (the default): a burst passes, the next message closes with 1008 and is not handled", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const closedBefore = yield* valueOf("websocket_rate_limited_total", { action: "close" })
      const client = yield* Testing.connect(recording(seen), {
        upgrade: { rateLimit: { messagesPerSecond: 10, messageBurst: 5 }, heartbeat: false }
      })
      for (const text of texts(0, 5)) yield* client.sendText(text)
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 5 })
      // a second later, ten more fit (the bucket holds at most messageBurst: five at once)
      yield* TestClock.adjust("1 second")
      for (const text of texts(5, 10)) yield* client.sendText(text)
      yield* client.sendText("over")
      assert.deepStrictEqual(yield* client.closed, { code: 1008, reason: "rate limit exceeded" })
      assert.deepStrictEqual(yield* client.closeInfo, { code: 1008, reason: "rate limit exceeded", initiator: "error" })
      assert.deepStrictEqual(yield* Ref.get(seen), texts(0, 10))
      assert.strictEqual(yield* valueOf("websocket_rate_limited_total", { action: "close" }), closedBefore + 1)
    }))

  it.effect("drop: messages over the limit are dropped, the connection goes on, and the rate refills", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const droppedBefore = yield* valueOf("websocket_rate_limited_total", { action: "drop" })
      const client = yield* Testing.connect(recording(seen), {
        upgrade: { rateLimit: { messagesPerSecond: 10, messageBurst: 3, onExceeded: "drop" }, heartbeat: false }
      })
      for (const text of texts(0, 6)) yield* client.sendText(text)
      yield* TestClock.adjust("100 millis")
      yield* client.sendText("after 100 ms")
      yield* client.sendText("dropped too")
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 4 })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(yield* Ref.get(seen), [...texts(0, 3), "after 100 ms"])
      assert.strictEqual(yield* valueOf("websocket_rate_limited_total", { action: "drop" }), droppedBefore + 4)
      yield* client.expectNoFrame("10 millis")
    }))

  it.effect("pause: nothing is lost; reading stops until the peer is within the limit, on the connection's clock", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const client = yield* Testing.connect(recording(seen), {
        upgrade: { rateLimit: { messagesPerSecond: 10, messageBurst: 4, onExceeded: "pause" }, heartbeat: false }
      })
      const sent = yield* Ref.make(0)
      const sender = yield* Effect.forkChild(Effect.forEach(
        texts(0, 10),
        (text) => Effect.andThen(client.sendText(text), Ref.update(sent, (n) => n + 1))
      ))
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 4 })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.strictEqual((yield* Ref.get(seen)).length, 4, "the burst, then the peer waits")
      // one message per 100 ms of the connection's clock
      yield* sleepers(1)
      yield* TestClock.adjust("100 millis")
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 5 })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.strictEqual((yield* Ref.get(seen)).length, 5)
      for (let i = 0; i < 5; i++) {
        yield* sleepers(1)
        yield* TestClock.adjust("100 millis")
      }
      yield* Fiber.join(sender)
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 10 })
      assert.deepStrictEqual(yield* Ref.get(seen), texts(0, 10))
    }))

  it.effect("bytesPerSecond: what the peer sends is counted in bytes", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const client = yield* Testing.connect(recording(seen), {
        upgrade: { maxMessageSize: 100, rateLimit: { bytesPerSecond: 100 }, heartbeat: false }
      })
      yield* client.sendText("x".repeat(60))
      yield* client.sendText("y".repeat(40))
      yield* Effect.repeat(Ref.get(seen), { until: (all) => all.length === 2 })
      yield* TestClock.adjust("500 millis")
      yield* client.sendText("z".repeat(50))
      yield* client.sendText("!")
      assert.deepStrictEqual(yield* client.closed, { code: 1008, reason: "rate limit exceeded" })
      assert.strictEqual((yield* Ref.get(seen)).length, 3)
    }))
})

describe("connection limits", () => {
  it.effect("beyond maxConnections the upgrade gets 503 with Retry-After; a freed slot is reused", () =>
    Effect.gen(function*() {
      const route = Upgrade.upgradeWebSocket(echo(), {
        maxConnections: 2,
        retryAfter: "7 seconds",
        heartbeat: false,
        idleTimeout: false
      })
      const first = yield* Testing.connectTo(route, "/")
      yield* Testing.connectTo(route, "/")
      const refused = yield* Effect.flip(Testing.connectTo(route, "/"))
      assert.strictEqual(refused._tag === "TestClientError" && refused.response?.status, 503)
      assert.strictEqual(refused._tag === "TestClientError" && refused.response?.headers["retry-after"], "7")
      yield* first.close(1000)
      yield* first.closeInfo
      const third = yield* Testing.connectTo(route, "/")
      yield* third.sendText("in")
      assert.deepStrictEqual(yield* third.receive, { _tag: "Text", text: "in" })
    }))

  it.effect("beyond maxConnectionsPerAddress the upgrade gets 429; other addresses are unaffected", () =>
    Effect.gen(function*() {
      const route = Upgrade.upgradeWebSocket(echo(), {
        maxConnectionsPerAddress: 1,
        heartbeat: false,
        idleTimeout: false
      })
      yield* Testing.connectTo(route, "/", { remoteAddress: "10.0.0.1" })
      const refused = yield* Effect.flip(Testing.connectTo(route, "/", { remoteAddress: "10.0.0.1" }))
      assert.strictEqual(refused._tag === "TestClientError" && refused.response?.status, 429)
      const other = yield* Testing.connectTo(route, "/", { remoteAddress: "10.0.0.2" })
      yield* other.sendText("hi")
      assert.deepStrictEqual(yield* other.receive, { _tag: "Text", text: "hi" })
    }))
})
