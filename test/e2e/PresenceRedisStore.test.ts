// The presence store in Redis against a real redis-server: PresenceNodes on RedisPresenceStores, each
// with its own ioredis connection for commands and one subscribed to the store's channel, as
// BroadcastRedis runs them. What crosses Redis between two servers, the keys as the store's header
// describes them, a change published in the same MULTI as its write, liveness lost (a key deleted, or
// expired), Redis losing everything (FLUSHALL), and a server leaving or dropped.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import type { Diff } from "../../src/internal/core/presence.js"
import { type Change, decodeChange, encodeChange, PresenceNode } from "../../src/internal/core/presenceNode.js"
import { type RedisClient, RedisPresenceStore } from "../../src/internal/core/presenceRedis.js"
import { redisServer } from "../support/redis.js"
import { eventually } from "../support/server.js"

const prefix = "test@presence:"
const TTL = 10_000

/** An ioredis connection, disconnected when the scope closes. */
const connection = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { maxRetriesPerRequest: 1 })),
    (redis) => Effect.sync(() => redis.disconnect())
  )

const call = <A>(f: () => Promise<A>) => Effect.promise(f)

interface Told {
  readonly topic: string
  readonly joins: ReadonlyArray<string>
  readonly leaves: ReadonlyArray<string>
}

/** One server: a node on its own store, its changes coming back through its own subscriber. */
const server = (url: string, name: string) =>
  Effect.gen(function*() {
    const publisher = yield* connection(url)
    const subscriber = yield* connection(url)
    const store = new RedisPresenceStore(publisher as unknown as RedisClient, prefix)
    const diffs: Array<Told> = []
    const failures: Array<string> = []
    const received: Array<Change> = []
    const node = new PresenceNode(name, store, TTL, {
      diff: (topic: string, diff: Diff<unknown>) =>
        diffs.push({
          topic,
          joins: diff.joins.map((e) => `${e.server}/${e.ref}:${e.key}`),
          leaves: diff.leaves.map((e) => `${e.server}/${e.ref}:${e.key}`)
        }),
      failed: (operation) => failures.push(operation)
    })
    subscriber.on("message", (channel: string, message: string) => {
      if (channel !== store.channel) return
      const change = decodeChange(message)
      if (change === undefined) return
      received.push(change)
      node.receive(change)
    })
    yield* call(() => subscriber.subscribe(store.channel))
    return { name, node, store, publisher, subscriber, diffs, failures, received }
  })

/** A topic as a node lists it: `key|server/ref|meta`, sorted. */
const listed = (node: PresenceNode, topic: string) =>
  Array.from(node.list(topic).values()).flat().map((e) => `${e.key}|${e.server}/${e.ref}|${JSON.stringify(e.meta)}`)
    .sort()

const sameList = (node: PresenceNode, topic: string, expected: ReadonlyArray<string>) =>
  Effect.sync(() => JSON.stringify(listed(node, topic)) === JSON.stringify([...expected].sort()))

const entriesKey = (name: string) => `${prefix}entries:${name}`
const aliveKey = (name: string) => `${prefix}alive:${name}`
const serversKey = `${prefix}servers`

describe("RedisPresenceStore on a real Redis", () => {
  it.scopedLive(
    "joins and leaves cross Redis between two servers; the hash holds each entry and @seq",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const a = yield* server(redis.url, "a")
        const b = yield* server(redis.url, "b")
        yield* call(() => a.node.start())
        yield* call(() => b.node.start())
        assert.sameMembers(yield* call(() => look.smembers(serversKey)), ["a", "b"])
        assert.sameMembers([...yield* call(() => a.store.servers())], ["a", "b"])

        a.node.track("1", "room", "ann", { status: "online" })
        yield* eventually("B lists ann", sameList(b.node, "room", [`ann|a/1|{"status":"online"}`]))
        assert.deepStrictEqual(yield* call(() => look.hgetall(entriesKey("a"))), {
          "@seq": "2", // 1 was A's start
          "1": JSON.stringify({ ref: "1", topic: "room", key: "ann", meta: { status: "online" } })
        })
        b.node.track("x", "room", "bob", null)
        yield* eventually("A lists bob", sameList(a.node, "room", [`ann|a/1|{"status":"online"}`, "bob|b/x|null"]))

        a.node.track("1", "room", "ann", { status: "away" })
        yield* eventually("B sees ann away", sameList(b.node, "room", [`ann|a/1|{"status":"away"}`, "bob|b/x|null"]))
        a.node.untrack("1")
        yield* eventually("B no longer lists ann", sameList(b.node, "room", ["bob|b/x|null"]))
        assert.deepStrictEqual(yield* call(() => look.hgetall(entriesKey("a"))), { "@seq": "4" })
        assert.deepStrictEqual(b.diffs.filter((d) => d.joins.concat(d.leaves).some((e) => e.startsWith("a/"))), [
          { topic: "room", joins: ["a/1:ann"], leaves: [] },
          { topic: "room", joins: ["a/1:ann"], leaves: ["a/1:ann"] },
          { topic: "room", joins: [], leaves: ["a/1:ann"] }
        ])
        // each server gets its own changes back too, and ignores them
        yield* eventually(
          "A heard its own changes",
          Effect.sync(() => a.received.some((c) => c.server === "a" && c.seq === 4))
        )
        assert.deepStrictEqual(a.received.filter((c) => c.server === "a").map((c) => c.seq), [1, 2, 3, 4])
        assert.deepStrictEqual(listed(a.node, "room"), ["bob|b/x|null"])
        assert.deepStrictEqual(a.failures, [])
        assert.deepStrictEqual(b.failures, [])
        assert.deepStrictEqual(yield* call(() => a.store.read("a")), { seq: 4, entries: [] })
      }),
    30_000
  )

  it.scopedLive(
    "a change is published in the same MULTI as its write: whoever hears it reads it stored",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const tap = yield* connection(redis.url)
        const a = yield* server(redis.url, "a")
        yield* call(() => a.node.start())
        // what a subscriber finds stored at the moment a change reaches it
        const seen: Array<{ readonly change: Change; readonly stored: Record<string, string> }> = []
        const reads: Array<Promise<void>> = []
        tap.on("message", (_channel: string, message: string) => {
          const change = decodeChange(message)!
          reads.push(look.hgetall(entriesKey("a")).then((stored) => void seen.push({ change, stored })))
        })
        yield* call(() => tap.subscribe(a.store.channel))
        const monitor = yield* Effect.acquireRelease(
          call(() => look.monitor()),
          (monitor) => Effect.sync(() => monitor.disconnect())
        )
        const commands: Array<string> = []
        monitor.on("monitor", (_time: string, args: Array<string>) => commands.push(args.join(" ").toLowerCase()))

        a.node.track("1", "room", "ann", 1)
        yield* eventually("the tap hears the join", Effect.sync(() => seen.length === 1))
        yield* call(() => Promise.all(reads))
        assert.deepStrictEqual(seen[0].change, {
          op: "join",
          server: "a",
          seq: 2,
          entry: { ref: "1", topic: "room", key: "ann", meta: 1 }
        })
        assert.deepStrictEqual(seen[0].stored, {
          "@seq": "2",
          "1": JSON.stringify({ ref: "1", topic: "room", key: "ann", meta: 1 })
        })
        yield* eventually("the monitor saw the transaction", Effect.sync(() => commands.includes("exec")))
        const from = commands.indexOf("multi")
        assert.deepStrictEqual(commands.slice(from, commands.indexOf("exec") + 1), [
          "multi",
          `hset ${entriesKey("a")} 1 ${JSON.stringify({ ref: "1", topic: "room", key: "ann", meta: 1 })}`.toLowerCase(),
          `hset ${entriesKey("a")} @seq 2`,
          `publish ${a.store.channel} ${encodeChange(seen[0].change)}`.toLowerCase(),
          "exec"
        ])

        // a rewrite: everything replaced, liveness and listing, and its announcement, in one transaction
        commands.length = 0
        yield* call(() => look.del(aliveKey("a")))
        yield* call(() => a.node.heartbeat())
        yield* eventually("the tap hears the snapshot", Effect.sync(() => seen.length === 2))
        yield* call(() => Promise.all(reads))
        assert.deepStrictEqual(seen[1].change, { op: "snapshot", server: "a", seq: 3 })
        assert.deepStrictEqual(seen[1].stored, {
          "@seq": "3",
          "1": JSON.stringify({ ref: "1", topic: "room", key: "ann", meta: 1 })
        })
        yield* eventually("the monitor saw the rewrite", Effect.sync(() => commands.includes("exec")))
        const transaction = commands.slice(commands.indexOf("multi"), commands.indexOf("exec") + 1)
        assert.deepStrictEqual(transaction.map((command) => command.split(" ").slice(0, 2).join(" ")), [
          "multi",
          `del ${entriesKey("a")}`,
          `hset ${entriesKey("a")}`,
          `hset ${entriesKey("a")}`,
          `set ${aliveKey("a")}`,
          `sadd ${serversKey}`,
          `publish ${a.store.channel}`,
          "exec"
        ])
      }),
    30_000
  )

  it.scopedLive(
    "heartbeat extends the liveness while its key lasts; once the key is gone it is false",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const a = yield* server(redis.url, "a")
        const b = yield* server(redis.url, "b")
        yield* call(() => a.node.start())
        yield* call(() => b.node.start())
        a.node.track("1", "room", "ann", 1)
        yield* eventually("B lists ann", sameList(b.node, "room", ["ann|a/1|1"]))

        yield* call(() => look.pexpire(aliveKey("a"), 100_000))
        assert.isTrue(yield* call(() => a.store.heartbeat("a", 5_000)))
        const pttl = yield* call(() => look.pttl(aliveKey("a")))
        assert.isTrue(pttl > 0 && pttl <= 5_000, `the heartbeat set the time to live: ${pttl}`)

        yield* call(() => look.del(aliveKey("a")))
        assert.isFalse(yield* call(() => a.store.heartbeat("a", 5_000)))
        assert.strictEqual(
          yield* call(() => look.exists(aliveKey("a"))),
          0,
          "a heartbeat does not bring a lost key back"
        )

        // expiry in Redis's own time: a liveness of 30 ms, nobody extending it (under another prefix)
        const other = new RedisPresenceStore(look as unknown as RedisClient, "other@presence:")
        const snapshot = encodeChange({ op: "snapshot", server: "short", seq: 1 })
        yield* call(() => other.rewrite("short", { seq: 1, entries: [] }, 30, snapshot))
        assert.deepStrictEqual(yield* call(() => other.status(["short"])), [{ alive: true, seq: 1 }])
        yield* eventually(
          "the short liveness expires",
          Effect.map(call(() => look.exists("other@presence:alive:short")), (n) => n === 0),
          5
        )
        assert.isFalse(yield* call(() => other.heartbeat("short", 30)))
        assert.deepStrictEqual(yield* call(() => other.status(["short"])), [{ alive: false, seq: 1 }])

        // the node itself: its heartbeat finds the key gone and rewrites everything
        const last = b.node.state.lastSeq("a")
        yield* call(() => a.node.heartbeat())
        assert.strictEqual(yield* call(() => look.exists(aliveKey("a"))), 1)
        const pttlAfter = yield* call(() => look.pttl(aliveKey("a")))
        assert.isTrue(pttlAfter > 5_000 && pttlAfter <= TTL, `the node's time to live: ${pttlAfter}`)
        yield* eventually("B read A again", Effect.sync(() => b.node.state.lastSeq("a") > last))
        assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"])
        assert.deepStrictEqual(b.failures, [])
      }),
    30_000
  )

  it.scopedLive(
    "status says whether each server is alive and the number of its last change",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const a = yield* server(redis.url, "a")
        const b = yield* server(redis.url, "b")
        yield* call(() => a.node.start())
        yield* call(() => b.node.start())
        a.node.track("1", "room", "ann", 1)
        a.node.track("2", "room", "amy", 2)
        yield* eventually("B lists both", sameList(b.node, "room", ["ann|a/1|1", "amy|a/2|2"]))
        assert.deepStrictEqual(yield* call(() => b.store.status(["a", "b", "nobody"])), [
          { alive: true, seq: 3 },
          { alive: true, seq: 1 },
          { alive: false, seq: 0 }
        ])
        yield* call(() => look.del(aliveKey("a")))
        assert.deepStrictEqual(yield* call(() => b.store.status(["a"])), [{ alive: false, seq: 3 }])
        assert.deepStrictEqual(yield* call(() => b.store.status([])), [])
      }),
    30_000
  )

  it.scopedLive(
    "a server whose liveness is gone is dropped by the others' sweep, and its keys deleted",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const a = yield* server(redis.url, "a")
        const b = yield* server(redis.url, "b")
        yield* call(() => a.node.start())
        yield* call(() => b.node.start())
        a.node.track("1", "room", "ann", 1)
        a.node.track("2", "lobby", "ann", 2)
        b.node.track("1", "room", "bob", 3)
        yield* eventually("B lists ann", sameList(b.node, "room", ["ann|a/1|1", "bob|b/1|3"]))
        // A is killed: it heartbeats no more (its subscriber gone too), and its liveness ends
        yield* call(() => a.subscriber.unsubscribe())
        yield* call(() => b.node.sweep())
        assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1", "bob|b/1|3"], "alive still: kept")
        yield* call(() => look.del(aliveKey("a")))
        const mark = b.diffs.length
        yield* call(() => b.node.sweep())
        assert.deepStrictEqual(listed(b.node, "room"), ["bob|b/1|3"])
        assert.deepStrictEqual(listed(b.node, "lobby"), [])
        assert.sameDeepMembers(b.diffs.slice(mark), [
          { topic: "room", joins: [], leaves: ["a/1:ann"] },
          { topic: "lobby", joins: [], leaves: ["a/2:ann"] }
        ])
        // A's liveness is deleted and it is unlisted; its entries expire a ttl later (another server's
        // sweep until then tells a death from a Redis restarted empty)
        yield* eventually("A is unlisted", Effect.map(call(() => look.smembers(serversKey)), (m) => !m.includes("a")))
        assert.strictEqual(yield* call(() => look.exists(aliveKey("a"))), 0)
        assert.isAbove(yield* call(() => look.pttl(entriesKey("a"))), 0)
        assert.deepStrictEqual(yield* call(() => look.smembers(serversKey)), ["b"])
        assert.strictEqual((yield* call(() => b.store.read("a"))).seq, 3, "still readable until they expire")
      }),
    30_000
  )

  it.scopedLive(
    "Redis loses everything: each server's next heartbeat rewrites; a fresh server lists everyone",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const a = yield* server(redis.url, "a")
        const b = yield* server(redis.url, "b")
        yield* call(() => a.node.start())
        yield* call(() => b.node.start())
        a.node.track("1", "room", "ann", { n: 1 })
        a.node.track("2", "lobby", "ann", { n: 2 })
        b.node.track("1", "room", "bob", { n: 3 })
        yield* eventually("A lists bob", sameList(a.node, "room", [`ann|a/1|{"n":1}`, `bob|b/1|{"n":3}`]))
        yield* eventually("B lists ann", sameList(b.node, "room", [`ann|a/1|{"n":1}`, `bob|b/1|{"n":3}`]))

        yield* call(() => look.flushall())
        assert.deepStrictEqual(yield* call(() => look.keys(`${prefix}*`)), [])
        yield* call(() => a.node.heartbeat())
        yield* call(() => b.node.heartbeat())
        assert.sameMembers(yield* call(() => look.smembers(serversKey)), ["a", "b"])
        assert.strictEqual(yield* call(() => look.exists(aliveKey("a"), aliveKey("b"))), 2)
        const stored = yield* call(() => a.store.read("a"))
        assert.strictEqual(stored.seq, 4)
        assert.sameMembers(stored.entries.map((e) => e.ref), ["1", "2"])

        const c = yield* server(redis.url, "c")
        yield* call(() => c.node.start())
        assert.deepStrictEqual(listed(c.node, "room"), [`ann|a/1|{"n":1}`, `bob|b/1|{"n":3}`])
        assert.deepStrictEqual(listed(c.node, "lobby"), [`ann|a/2|{"n":2}`])
        // the others still agree, after their sweeps too
        yield* call(() => a.node.sweep())
        yield* call(() => b.node.sweep())
        for (const probe of [a, b]) {
          assert.deepStrictEqual(listed(probe.node, "room"), [`ann|a/1|{"n":1}`, `bob|b/1|{"n":3}`])
          assert.deepStrictEqual(listed(probe.node, "lobby"), [`ann|a/2|{"n":2}`])
        }
        yield* eventually(
          "A and B heard of C",
          Effect.sync(() => a.node.state.lastSeq("c") > 0 && b.node.state.lastSeq("c") > 0)
        )
      }),
    30_000
  )

  it.scopedLive(
    "a write Redis refuses marks the node dirty: its next heartbeat rewrites and the others converge",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const a = yield* server(redis.url, "a")
        const b = yield* server(redis.url, "b")
        yield* call(() => a.node.start())
        yield* call(() => b.node.start())
        // A's hash replaced by a string: HSET fails with WRONGTYPE inside the transaction
        yield* call(() => look.set(entriesKey("a"), "not a hash"))
        a.node.track("1", "room", "ann", 1)
        yield* eventually("the write failed", Effect.sync(() => a.failures.includes("write")))
        yield* call(() => a.node.heartbeat())
        assert.deepStrictEqual(yield* call(() => a.store.read("a")), {
          seq: 3,
          entries: [{ ref: "1", topic: "room", key: "ann", meta: 1 }]
        })
        yield* eventually("B lists ann", sameList(b.node, "room", ["ann|a/1|1"]))
        yield* eventually("B has A at the rewrite", Effect.sync(() => b.node.state.lastSeq("a") === 3))
      }),
    30_000
  )

  it.scopedLive("stop: the server's keys are deleted and the others drop it at once", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const look = yield* connection(redis.url)
      const a = yield* server(redis.url, "a")
      const b = yield* server(redis.url, "b")
      yield* call(() => a.node.start())
      yield* call(() => b.node.start())
      a.node.track("1", "room", "ann", 1)
      b.node.track("1", "room", "bob", 2)
      yield* eventually("B lists ann", sameList(b.node, "room", ["ann|a/1|1", "bob|b/1|2"]))
      yield* call(() => a.node.stop())
      assert.strictEqual(yield* call(() => look.exists(entriesKey("a"), aliveKey("a"))), 0)
      assert.deepStrictEqual(yield* call(() => look.smembers(serversKey)), ["b"])
      yield* eventually("B drops A", sameList(b.node, "room", ["bob|b/1|2"]))
      assert.strictEqual(b.received.at(-1)?.op, "down")
      // forget unlists a dead server and deletes its liveness at once, its entries a ttl later (so that
      // the other servers' sweeps still tell a death from a Redis restarted empty), without a word on
      // the channel
      const heard = b.received.length
      yield* call(() => b.store.forget("b", 5_000))
      assert.strictEqual(yield* call(() => look.exists(aliveKey("b"))), 0)
      const pttl = yield* call(() => look.pttl(entriesKey("b")))
      assert.isTrue(pttl > 0 && pttl <= 5_000, `the entries expire within the ttl (${pttl})`)
      assert.deepStrictEqual(yield* call(() => look.smembers(serversKey)), [])
      // a marker after it on the channel: once it arrives, whatever forget published would have too
      yield* call(() => look.publish(b.store.channel, encodeChange({ op: "down", server: "marker", seq: 1 })))
      yield* eventually("the marker arrives", Effect.sync(() => b.received.length > heard))
      assert.deepStrictEqual(b.received.slice(heard), [{ op: "down", server: "marker", seq: 1 }])
    }), 30_000)

  it.scopedLive(
    "read keeps only the entries of this library's shape, and a number it can trust",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const store = new RedisPresenceStore(look as unknown as RedisClient, prefix)
        const good = { ref: "r1", topic: "room", key: "ann", meta: { n: 1 } }
        yield* call(() =>
          look.hset(entriesKey("x"), {
            "@seq": "7",
            r1: JSON.stringify(good),
            r2: "not json",
            r3: JSON.stringify({ ...good, ref: "other" }), // filed under another ref
            r4: JSON.stringify({ ref: "r4", topic: "room" }) // not an entry
          })
        )
        assert.deepStrictEqual(yield* call(() => store.read("x")), { seq: 7, entries: [good] })
        yield* call(() => look.hset(entriesKey("x"), "@seq", "many"))
        assert.strictEqual((yield* call(() => store.read("x"))).seq, 0)
        assert.deepStrictEqual(yield* call(() => store.read("nobody")), { seq: 0, entries: [] })
      }),
    30_000
  )

  it.scopedLive(
    "a time to live that is not a whole number of milliseconds still marks the server alive",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* connection(redis.url)
        const store = new RedisPresenceStore(look as unknown as RedisClient, prefix)
        // BroadcastRedis passes its presence `ttl` as is (Duration.toMillis): "1500.5 millis" comes here as 1500.5
        const snapshot = encodeChange({ op: "snapshot", server: "a", seq: 1 })
        const written = yield* Effect.either(
          Effect.sandbox(call(() => store.rewrite("a", { seq: 1, entries: [] }, 1500.5, snapshot)))
        )
        assert.isTrue(written._tag === "Right", "rewrite with PX 1500.5")
        assert.strictEqual(yield* call(() => look.exists(aliveKey("a"))), 1)
        const beat = yield* Effect.either(Effect.sandbox(call(() => store.heartbeat("a", 1500.5))))
        assert.isTrue(beat._tag === "Right" && beat.right, "heartbeat with PX 1500.5")
      }),
    30_000
  )
})
