// Presence through the test kit: tracked connections listed by key, diffs as frames to the topic's
// subscribers (numbered per topic), untracked when the connection ends, typed metas, the diffs as a
// stream; across servers on the in-memory backplane, with a server killed and the store restarted
// empty, driven by the TestClock. The Effect 4 driver's copy of test/spec/Presence.test.ts (the core is
// shared; the driver, its queues, scopes and Schema are not).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result, Schema, Stream } from "effect"
import { Action, Broadcast, type Connection, Presence, Testing, Upgrade } from "effect-websocket"
import { TestClock } from "effect/testing"

const Meta = Schema.Struct({ user: Schema.String, status: Schema.Literals(["online", "away"]) })
const Room = Presence.make({ meta: Meta, key: (meta) => meta.user })

const query = (connection: Connection.Connection, name: string) =>
  new URL(connection.url, "http://x").searchParams.get(name) ?? ""

/** `/?room=r&user=u` subscribes to the room, tracks the user there and sends the state; "away" updates. */
const room = Upgrade.upgradeWebSocket({
  onInit: (connection) =>
    Effect.gen(function*() {
      const topic = query(connection, "room")
      // subscribed, then the state, then the own join: the diffs continue from the state's seq
      yield* Broadcast.subscribe(connection, topic)
      yield* Effect.orDie(Room.sendState(connection, topic))
      yield* Effect.orDie(Room.track(connection, topic, { user: query(connection, "user"), status: "online" }))
      return Upgrade.initial(null)
    }),
  onMessage: (state, message, connection) =>
    message._tag === "TextMessage" && message.text === "away"
      ? Effect.as(
        Effect.orDie(
          Room.track(connection, query(connection, "room"), { user: query(connection, "user"), status: "away" })
        ),
        Action.continueConnection(state)
      )
      : message._tag === "TextMessage" && message.text === "leave"
      ? Effect.as(Room.untrack(connection, query(connection, "room")), Action.continueConnection(state))
      : Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}, { heartbeat: false, idleTimeout: false })

const json = (frame: Testing.Frame): any => {
  assert.strictEqual(frame._tag, "Text")
  return JSON.parse((frame as { text: string }).text)
}

const users = (presences: Presence.Presences<typeof Meta.Type>) =>
  Object.fromEntries(Object.entries(presences).map(([key, entries]) => [key, entries.map((e) => e.meta.status)]))

describe("Presence", () => {
  describe("one server", () => {
    it.effect("lists who is in a topic by key, sends the state, and every change as a numbered diff", () =>
      Effect.gen(function*() {
        const ann = yield* Testing.connectTo(room, "/?room=r&user=ann")
        const annState = json(yield* ann.receive)
        assert.strictEqual(annState.type, "presence_state")
        assert.deepStrictEqual(annState.presences, {})
        // ann's own join, numbered after the state she got
        const join = json(yield* ann.receive)
        assert.strictEqual(join.type, "presence_diff")
        assert.strictEqual(join.stream, annState.stream)
        assert.strictEqual(join.seq, annState.seq + 1)
        assert.deepStrictEqual(join.joins.ann.map((e: any) => e.meta), [{ user: "ann", status: "online" }])

        const bob = yield* Testing.connectTo(room, "/?room=r&user=bob")
        const bobState = json(yield* bob.receive)
        assert.deepStrictEqual(Object.keys(bobState.presences), ["ann"])
        assert.strictEqual(bobState.seq, join.seq)
        const bobJoin = json(yield* ann.receive)
        assert.deepStrictEqual(Object.keys(bobJoin.joins), ["bob"])
        assert.strictEqual(bobJoin.seq, join.seq + 1)

        // a second connection of ann's: one key, two entries
        const ann2 = yield* Testing.connectTo(room, "/?room=r&user=ann")
        yield* ann2.receive
        assert.deepStrictEqual(users(yield* Room.list("r")), { ann: ["online", "online"], bob: ["online"] })
        const refs = (yield* Room.list("r")).ann.map((entry) => entry.ref)
        assert.strictEqual(new Set(refs).size, 2, "one ref per connection")

        // an update is a leave of the old meta and a join of the new one, same ref
        yield* ann2.sendText("away")
        yield* ann.receive // ann2's join
        const update = json(yield* ann.receive)
        assert.strictEqual(update.leaves.ann[0].ref, update.joins.ann[0].ref)
        assert.deepStrictEqual([update.leaves.ann[0].meta.status, update.joins.ann[0].meta.status], ["online", "away"])

        // the connection's end untracks it
        yield* bob.close(1000)
        const left = json(yield* ann.receive)
        assert.deepStrictEqual(Object.keys(left.leaves), ["bob"])
        assert.deepStrictEqual(left.joins, {})
        assert.deepStrictEqual(users(yield* Room.list("r")), { ann: ["online", "away"] })
        const state = yield* Room.state("r")
        assert.strictEqual(state.seq, left.seq)

        // untrack without closing
        yield* ann2.sendText("leave")
        yield* ann.receive // ann2's own diff
        assert.deepStrictEqual(users(yield* Room.list("r")), { ann: ["online"] })
        assert.deepStrictEqual(yield* Room.list("elsewhere"), {})
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("metas are typed: a meta that does not encode fails track, one that does not decode is left out", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect({
          onInit: (connection) =>
            Effect.gen(function*() {
              const bad = yield* Effect.result(Room.track(connection, "t", { user: "x", status: "gone" } as any))
              assert.isTrue(Result.isFailure(bad) && bad.failure._tag === "SchemaError")
              // a meta that is not JSON is a typed error too, and tracks nothing
              const notJson = yield* Effect.result(Presence.track(connection, "t", { n: 1n }, { key: "big" }))
              assert.isTrue(Result.isFailure(notJson) && notJson.failure._tag === "SchemaError")
              assert.match(Result.isFailure(notJson) ? notJson.failure.message : "", /must encode to JSON/)
              // an untyped meta under a key, which Room's schema does not decode
              yield* Presence.track(connection, "t", { something: "else" }, { key: "other" })
              return Upgrade.initial(null)
            }),
          onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
          onClose: () => Effect.void
        })
        yield* Effect.yieldNow
        assert.deepStrictEqual(yield* Presence.list("t"), {
          other: [{ ref: (yield* Presence.list("t")).other[0].ref, meta: { something: "else" } }]
        })
        assert.deepStrictEqual(yield* Room.list("t"), {})
        assert.notProperty(yield* Presence.list("t"), "big")
        yield* client.close(1000)
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("the diffs as a stream, live when changes returns, end with the connection", () =>
      Effect.gen(function*() {
        const seen: Array<string> = []
        const watcher = yield* Testing.connect({
          onInit: (connection) =>
            Effect.map(Room.changes(connection, "w"), (diffs) =>
              Upgrade.initialWithSelector(
                null,
                Stream.map(diffs, (diff) => `${Object.keys(diff.joins).join()}|${Object.keys(diff.leaves).join()}`)
              )),
          onMessage: (state, message) =>
            Effect.sync(() => {
              if (message._tag === "CustomMessage") seen.push(message.value)
              return Action.continueConnection(state)
            }),
          onClose: () => Effect.void
        })
        const ann = yield* Testing.connectTo(room, "/?room=w&user=ann")
        yield* ann.receive
        yield* ann.close(1000)
        for (let i = 0; i < 100 && seen.length < 2; i++) yield* Effect.yieldNow
        assert.deepStrictEqual(seen, ["ann|", "|ann"])
        yield* watcher.close(1000)
        const bad = yield* Effect.result(Room.changes(undefined as any, "w", { capacity: 0 }))
        assert.isTrue(Result.isFailure(bad) && bad.failure._tag === "OptionsError")
      }).pipe(Effect.provide(Broadcast.layer())))
  })

  describe("several servers on the test kit's backplane", () => {
    it.effect("members on two servers are listed on both; a killed server's leave everywhere within 1.5 ttl", () =>
      Effect.gen(function*() {
        const backplane = yield* Testing.backplane
        const a = yield* backplane.node({ ttl: 3_000 })
        const b = yield* backplane.node({ ttl: 3_000 })
        const onA = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.provideService(effect, Broadcast.Broadcast, a.broadcast)
        const onB = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.provideService(effect, Broadcast.Broadcast, b.broadcast)
        const ann = yield* onA(Testing.connectTo(room, "/?room=r&user=ann"))
        yield* ann.receive
        yield* ann.receive
        const bob = yield* onB(Testing.connectTo(room, "/?room=r&user=bob"))
        const bobState = json(yield* bob.receive)
        // bob's server may or may not have heard of ann yet: wait for the diffs to settle
        const annSees = json(yield* ann.receive)
        assert.deepStrictEqual(Object.keys(annSees.joins), ["bob"])
        const onBoth = () => Effect.all([onA(Room.list("r")), onB(Room.list("r"))])
        for (let i = 0; i < 50; i++) yield* Effect.yieldNow
        const [listA, listB] = yield* onBoth()
        assert.deepStrictEqual(Object.keys(listA).sort(), ["ann", "bob"])
        assert.deepStrictEqual(Object.keys(listB).sort(), ["ann", "bob"])
        assert.strictEqual(bobState.type, "presence_state")

        yield* a.kill
        // before the liveness expires, b still lists ann
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(Object.keys(yield* onB(Room.list("r"))).sort(), ["ann", "bob"])
        yield* TestClock.adjust("2600 millis")
        for (let i = 0; i < 50; i++) yield* Effect.yieldNow
        assert.deepStrictEqual(Object.keys(yield* onB(Room.list("r"))), ["bob"])
        // bob's client was told, by a diff
        let leave: any
        for (let i = 0; i < 5 && leave === undefined; i++) {
          const frame = json(yield* bob.receive)
          if (frame.type === "presence_diff" && Object.keys(frame.leaves).includes("ann")) leave = frame
        }
        assert.isDefined(leave)
      }))

    it.effect("a store restarted empty is filled again by the live servers, and a newcomer sees everyone", () =>
      Effect.gen(function*() {
        const backplane = yield* Testing.backplane
        const a = yield* backplane.node({ ttl: 3_000 })
        const ann = yield* Testing.connectTo(room, "/?room=r&user=ann").pipe(
          Effect.provideService(Broadcast.Broadcast, a.broadcast)
        )
        yield* ann.receive
        yield* backplane.clear
        yield* TestClock.adjust("1 second") // a heartbeat finds the liveness gone and rewrites
        for (let i = 0; i < 50; i++) yield* Effect.yieldNow
        const c = yield* backplane.node({ ttl: 3_000 })
        for (let i = 0; i < 50; i++) yield* Effect.yieldNow
        const listed = yield* Room.list("r").pipe(Effect.provideService(Broadcast.Broadcast, c.broadcast))
        assert.deepStrictEqual(Object.keys(listed), ["ann"])
      }))
  })

  it.effect("a publish can be numbered per topic: stream and seq follow 1, 2, 3", () =>
    Effect.gen(function*() {
      const client = yield* Testing.connect({
        onInit: (connection) => Effect.as(Broadcast.subscribe(connection, "n"), Upgrade.initial(null)),
        onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
        onClose: () => Effect.void
      })
      for (let i = 0; i < 3; i++) yield* Broadcast.publish("n", (p) => `${p.stream} ${p.seq}`)
      yield* Broadcast.publish("other", (p) => `${p.seq}`)
      const frames = [yield* client.receive, yield* client.receive, yield* client.receive].map((f) =>
        (f as { text: string }).text.split(" ")
      )
      assert.deepStrictEqual(frames.map(([, seq]) => seq), ["1", "2", "3"])
      assert.strictEqual(new Set(frames.map(([stream]) => stream)).size, 1)
    }).pipe(Effect.provide(Layer.fresh(Broadcast.layer()))))
})
