import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Result } from "effect"
import { Action, Broadcast, type Connection, type Message, Testing, Upgrade } from "effect-websocket"
import { TestClock } from "effect/testing"
import { collected } from "../support/gc.js"

/** The room is the URL's `room` query parameter; a text goes to everyone else in it, bytes to everyone. */
const roomOf = (connection: Connection.Connection) => new URL(connection.url, "http://x").searchParams.get("room")!

const room = (options?: Upgrade.Options) =>
  Upgrade.upgradeWebSocket({
    onInit: (connection) => Effect.as(Broadcast.subscribe(connection, roomOf(connection)), Upgrade.initial(null)),
    onMessage: (state: null, message: Message.Message<never>, connection) => {
      switch (message._tag) {
        case "TextMessage":
          if (message.text.startsWith("leave ")) {
            return Effect.as(Broadcast.unsubscribe(connection, message.text.slice(6)), Action.continueConnection(state))
          }
          if (message.text.startsWith("join ")) {
            return Effect.as(Broadcast.subscribe(connection, message.text.slice(5)), Action.continueConnection(state))
          }
          return Effect.as(
            Effect.orDie(Broadcast.publish(roomOf(connection), message.text, { except: connection })),
            Action.continueConnection(state)
          )
        case "BinaryMessage":
          return Effect.as(
            Effect.orDie(Broadcast.publish(roomOf(connection), message.data)),
            Action.continueConnection(state)
          )
        default:
          return Effect.succeed(Action.continueConnection(state))
      }
    },
    onClose: () => Effect.void
  }, { heartbeat: false, idleTimeout: false, ...options })

const text = (text: string) => ({ _tag: "Text", text }) as const

describe("Broadcast", () => {
  describe("in memory", () => {
    it.effect("a publish reaches every subscriber of the topic, and no one else", () =>
      Effect.gen(function*() {
        const route = room()
        const alice = yield* Testing.connectTo(route, "/?room=a")
        const bob = yield* Testing.connectTo(route, "/?room=a")
        const carol = yield* Testing.connectTo(route, "/?room=b")
        yield* Broadcast.publish("a", "to room a")
        assert.deepStrictEqual(yield* alice.receive, text("to room a"))
        assert.deepStrictEqual(yield* bob.receive, text("to room a"))
        yield* carol.expectNoFrame("50 millis")
        assert.strictEqual(yield* Broadcast.subscriberCount("a"), 2)
        assert.strictEqual(yield* Broadcast.subscriberCount("b"), 1)
        assert.deepStrictEqual([...(yield* Broadcast.topics)].sort(), ["a", "b"])
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("a subscription is live when subscribe returns: a publish right after two clients connected reaches both", () =>
      Effect.gen(function*() {
        const route = room()
        for (let run = 0; run < 50; run++) {
          const topic = `run-${run}`
          const first = yield* Testing.connectTo(route, `/?room=${topic}`)
          const second = yield* Testing.connectTo(route, `/?room=${topic}`)
          yield* Broadcast.publish(topic, "now")
          assert.deepStrictEqual(yield* first.receive, text("now"), `run ${run}`)
          assert.deepStrictEqual(yield* second.receive, text("now"), `run ${run}`)
        }
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("publish to all but the sender; bytes go as binary frames", () =>
      Effect.gen(function*() {
        const route = room()
        const alice = yield* Testing.connectTo(route, "/?room=a")
        const bob = yield* Testing.connectTo(route, "/?room=a")
        yield* alice.sendText("hi from alice")
        assert.deepStrictEqual(yield* bob.receive, text("hi from alice"))
        yield* alice.expectNoFrame("50 millis")
        yield* bob.sendBinary(new Uint8Array([1, 2, 3]))
        for (const client of [alice, bob]) {
          const frame = yield* client.receive
          assert.strictEqual(frame._tag, "Binary")
          assert.deepStrictEqual(frame._tag === "Binary" ? [...frame.data] : [], [1, 2, 3])
        }
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("a connection may be in many topics; unsubscribe leaves one, the others stay", () =>
      Effect.gen(function*() {
        const route = room()
        const alice = yield* Testing.connectTo(route, "/?room=a")
        yield* alice.sendText("join news")
        yield* alice.sendText("join sport")
        yield* Effect.yieldNow
        assert.deepStrictEqual([...(yield* Broadcast.topics)].sort(), ["a", "news", "sport"])
        yield* Broadcast.publish("news", "headline")
        yield* Broadcast.publish("sport", "score")
        assert.deepStrictEqual([yield* alice.receive, yield* alice.receive], [text("headline"), text("score")])
        yield* alice.sendText("leave news")
        yield* Effect.yieldNow
        assert.strictEqual(yield* Broadcast.subscriberCount("news"), 0)
        assert.deepStrictEqual([...(yield* Broadcast.topics)].sort(), ["a", "sport"])
        yield* Broadcast.publish("news", "missed")
        yield* Broadcast.publish("sport", "kept")
        assert.deepStrictEqual(yield* alice.receive, text("kept"))
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("a subscription ends with its connection, whichever way it ends, and keeps nothing", () =>
      Effect.gen(function*() {
        const route = room()
        const closing = yield* Testing.connectTo(route, "/?room=a")
        const dropped = yield* Testing.connectTo(route, "/?room=a")
        const staying = yield* Testing.connectTo(route, "/?room=a")
        assert.strictEqual(yield* Broadcast.subscriberCount("a"), 3)
        yield* closing.close(1000, "bye")
        yield* closing.closed
        yield* dropped.drop
        yield* dropped.closeInfo
        assert.strictEqual(yield* Broadcast.subscriberCount("a"), 1)
        yield* staying.close()
        yield* staying.closed
        assert.strictEqual(yield* Broadcast.subscriberCount("a"), 0)
        assert.deepStrictEqual(yield* Broadcast.topics, [])
      }).pipe(Effect.provide(Broadcast.layer())))

    it.live("nothing keeps a closed subscriber (no fiber, no entry)", () =>
      Effect.gen(function*() {
        let ref: WeakRef<object> | undefined
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* Testing.connect({
            onInit: (connection) => {
              ref = new WeakRef(connection)
              return Effect.as(Broadcast.subscribe(connection, "a"), Upgrade.initial(null))
            },
            onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
            onClose: () => Effect.void
          }, { upgrade: { heartbeat: false, idleTimeout: false } })
          yield* client.close()
          yield* client.closed
        }))
        yield* Broadcast.publish("a", "after")
        assert.isTrue(yield* Effect.promise(() => collected(ref!)), "the connection was collected")
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("a publish never waits for a slow subscriber; by default it misses the message and is counted", () =>
      Effect.gen(function*() {
        const route = room({ outbound: { highWaterMark: 64 } })
        const slow = yield* Testing.connectTo(route, "/?room=a")
        const fast = yield* Testing.connectTo(route, "/?room=a")
        const payload = "x".repeat(40)
        for (let i = 0; i < 5; i++) {
          yield* Broadcast.publish("a", `${i}${payload}`)
          assert.deepStrictEqual(yield* fast.receive, text(`${i}${payload}`))
        }
        // the slow one read nothing: two messages filled its buffer past 64 bytes, three were dropped
        assert.strictEqual(yield* Broadcast.dropped("a"), 3)
        assert.deepStrictEqual(yield* slow.receive, text(`0${payload}`))
        assert.deepStrictEqual(yield* slow.receive, text(`1${payload}`))
        yield* slow.expectNoFrame("50 millis")
        // once it has read, it gets the next ones again
        yield* Broadcast.publish("a", "again")
        assert.deepStrictEqual(yield* slow.receive, text("again"))
        assert.deepStrictEqual(yield* fast.receive, text("again"))
        // a topic is forgotten with its last subscriber, its count with it: nothing grows with old topics
        yield* slow.close()
        yield* fast.close()
        yield* slow.closeInfo
        yield* fast.closeInfo
        assert.strictEqual(yield* Broadcast.dropped("a"), 0)
        assert.deepStrictEqual(yield* Broadcast.topics, [])
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("whenFull: close closes a slow subscriber with 1008 and leaves the others", () =>
      Effect.gen(function*() {
        const route = room({ outbound: { highWaterMark: 64 } })
        const slow = yield* Testing.connectTo(route, "/?room=a")
        const fast = yield* Testing.connectTo(route, "/?room=a")
        for (let i = 0; i < 3; i++) {
          yield* Broadcast.publish("a", `${i}${"x".repeat(40)}`)
          yield* fast.receive
        }
        assert.deepStrictEqual(yield* slow.closeInfo, {
          code: 1008,
          reason: "broadcast buffer full",
          initiator: "error"
        })
        assert.strictEqual(yield* Broadcast.subscriberCount("a"), 1)
        yield* Broadcast.publish("a", "still here")
        assert.deepStrictEqual(yield* fast.receive, text("still here"))
      }).pipe(Effect.provide(Broadcast.layer({ whenFull: (topic) => topic === "a" ? "close" : "drop" }))))

    it.effect("without whenFull, a subscriber's route decides: outbound policy close closes it with 1008", () =>
      Effect.gen(function*() {
        const closing = room({ outbound: { highWaterMark: 64, policy: "close" } })
        const dropping = room({ outbound: { highWaterMark: 64, policy: "fail" } })
        const slowCloses = yield* Testing.connectTo(closing, "/?room=a")
        const slowDrops = yield* Testing.connectTo(dropping, "/?room=a")
        for (let i = 0; i < 3; i++) yield* Broadcast.publish("a", `${i}${"x".repeat(40)}`)
        assert.deepStrictEqual(yield* slowCloses.closeInfo, {
          code: 1008,
          reason: "broadcast buffer full",
          initiator: "error"
        })
        assert.strictEqual(yield* Broadcast.dropped("a"), 1, "the other one missed the third")
        assert.deepStrictEqual([yield* slowDrops.receive, yield* slowDrops.receive], [
          text(`0${"x".repeat(40)}`),
          text(`1${"x".repeat(40)}`)
        ])
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("whenFull overrides the route: drop keeps a subscriber whose route would close", () =>
      Effect.gen(function*() {
        const route = room({ outbound: { highWaterMark: 64, policy: "close" } })
        const slow = yield* Testing.connectTo(route, "/?room=a")
        for (let i = 0; i < 3; i++) yield* Broadcast.publish("a", `${i}${"x".repeat(40)}`)
        assert.strictEqual(yield* Broadcast.dropped("a"), 1)
        assert.deepStrictEqual(yield* slow.receive, text(`0${"x".repeat(40)}`))
        assert.strictEqual(yield* Broadcast.subscriberCount("a"), 1, "still subscribed, still open")
      }).pipe(Effect.provide(Broadcast.layer({ whenFull: "drop" }))))

    it.effect("publishing from outside any connection (a scheduled job) reaches the subscribers", () =>
      Effect.gen(function*() {
        const route = room()
        const alice = yield* Testing.connectTo(route, "/?room=ticks")
        const job = yield* Effect.forkChild(
          Effect.forever(Effect.andThen(Effect.sleep("1 second"), Effect.orDie(Broadcast.publish("ticks", "tick"))))
        )
        yield* TestClock.adjust("3 seconds")
        assert.deepStrictEqual(
          [yield* alice.receive, yield* alice.receive, yield* alice.receive],
          [text("tick"), text("tick"), text("tick")]
        )
        yield* Fiber.interrupt(job)
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("the in-memory publish never fails", () =>
      Effect.gen(function*() {
        assert.isTrue(Result.isSuccess(yield* Effect.result(Broadcast.publish("nobody", "hello"))))
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("each layer is its own node: two services do not share topics", () =>
      Effect.gen(function*() {
        const one = yield* Layer.build(Broadcast.layer())
        const two = yield* Layer.build(Broadcast.layer())
        const route = room()
        const client = yield* Testing.connectTo(route, "/?room=a").pipe(Effect.provide(one))
        yield* Broadcast.publish("a", "from two").pipe(Effect.provide(two))
        yield* client.expectNoFrame("50 millis")
        yield* Broadcast.publish("a", "from one").pipe(Effect.provide(one))
        assert.deepStrictEqual(yield* client.receive, text("from one"))
      }))
  })

  describe("topicPrefix", () => {
    it("labels a topic by its part before the first `:`, and a topic without one as *", () => {
      assert.strictEqual(Broadcast.topicPrefix("room:42"), "room")
      assert.strictEqual(Broadcast.topicPrefix("room:42:chat"), "room")
      assert.strictEqual(Broadcast.topicPrefix("lobby"), "*")
      assert.strictEqual(Broadcast.topicPrefix(":42"), "*")
      assert.strictEqual(Broadcast.topicPrefix(""), "*")
    })
  })
})
