// Presence replication between servers with no Effect, no timer and no socket: PresenceNodes sharing an
// in-memory store whose clock is a variable. Heartbeats and sweeps are called by hand, the store's
// channel delivers in microtasks (flushed by `settle`), and a server is cut off from the store, the
// store restarted empty, a change lost or a read delayed, to check that every copy converges again.
import { assert, describe, it } from "@effect/vitest"
import type { Diff, Entry } from "../../../src/internal/core/presence.js"
import { MemoryPresenceBackplane, type MemoryPresenceStore } from "../../../src/internal/core/presenceMemory.js"
import {
  type Change,
  decodeChange,
  encodeChange,
  PresenceNode,
  type PresenceStore,
  sameJson,
  type Snapshot,
  type Status
} from "../../../src/internal/core/presenceNode.js"

/** Runs every microtask queued so far, and those they queue (a macrotask runs only once none is left). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * A node's store: the server's connection to the shared memory store, with reads that can be held
 * (what a slow HGETALL looks like: the state is read when asked, the answer arrives on `release`), and
 * half of the connection that can fail alone: `mute` (its commands fail, changes still reach it) or
 * `deaf` (its commands work, the changes published do not reach it: a subscriber connection lost).
 */
class Gate implements PresenceStore {
  readonly reads: Array<string> = []
  hold = false
  mute = false
  deaf = false
  private pending: Array<() => void> = []

  constructor(readonly link: MemoryPresenceStore) {}

  private via<A>(f: () => Promise<A>): Promise<A> {
    return this.mute ? Promise.reject(new Error("commands fail")) : f()
  }
  write(change: Change, event: string) {
    return this.via(() => this.link.write(change, event))
  }
  rewrite(server: string, snapshot: Snapshot, ttl: number, event: string) {
    return this.via(() => this.link.rewrite(server, snapshot, ttl, event))
  }
  read(server: string): Promise<Snapshot> {
    this.reads.push(server)
    const snapshot = this.via(() => this.link.read(server))
    if (!this.hold) return snapshot
    snapshot.catch(() => {}) // handled when released
    return new Promise((resolve, reject) => this.pending.push(() => snapshot.then(resolve, reject)))
  }
  heartbeat(server: string, ttl: number) {
    return this.via(() => this.link.heartbeat(server, ttl))
  }
  status(servers: ReadonlyArray<string>): Promise<ReadonlyArray<Status>> {
    return this.via(() => this.link.status(servers))
  }
  servers() {
    return this.via(() => this.link.servers())
  }
  forget(server: string, ttl: number) {
    return this.via(() => this.link.forget(server, ttl))
  }
  leave(server: string, event: string) {
    return this.via(() => this.link.leave(server, event))
  }

  /** Answers the reads held so far, in order, and holds no more. */
  release(): void {
    this.hold = false
    const pending = this.pending
    this.pending = []
    for (const answer of pending) answer()
  }
}

const show = (entry: Entry<unknown>) => `${entry.server}/${entry.ref}:${entry.key}:${JSON.stringify(entry.meta)}`

interface Shown {
  readonly topic: string
  readonly joins: ReadonlyArray<string>
  readonly leaves: ReadonlyArray<string>
}

interface Probe {
  readonly server: string
  readonly node: PresenceNode
  /** The server's connection to the store: `cut` it to cut the server off. */
  readonly link: MemoryPresenceStore
  readonly gate: Gate
  /** Every diff the node told its driver, in order. */
  readonly diffs: Array<Shown>
  /** Each topic as the diffs alone build it (leaves, then joins), to compare with `node.list`. */
  readonly view: Map<string, Map<string, Entry<unknown>>>
  readonly failures: Array<string>
}

const TTL = 1000

const cluster = (ttl = TTL) => {
  let now = 0
  const backplane = new MemoryPresenceBackplane(() => now)
  const probes: Array<Probe> = []
  const add = (server: string): Probe => {
    const diffs: Array<Shown> = []
    const view = new Map<string, Map<string, Entry<unknown>>>()
    const failures: Array<string> = []
    const link = backplane.connect((change) => {
      if (!gate.deaf) node.receive(change)
    })
    const gate = new Gate(link)
    const node: PresenceNode = new PresenceNode(server, gate, ttl, {
      diff: (topic: string, diff: Diff<unknown>) => {
        diffs.push({ topic, joins: diff.joins.map(show), leaves: diff.leaves.map(show) })
        let members = view.get(topic)
        if (members === undefined) view.set(topic, members = new Map())
        for (const leave of diff.leaves) {
          assert.strictEqual(leave.topic, topic, "a leave is told in its own topic")
          members.delete(`${leave.server}/${leave.ref}`)
        }
        for (const join of diff.joins) {
          assert.strictEqual(join.topic, topic, "a join is told in its own topic")
          members.set(`${join.server}/${join.ref}`, join)
        }
      },
      failed: (operation) => failures.push(operation)
    })
    const probe = { server, node, link, gate, diffs, view, failures }
    probes.push(probe)
    return probe
  }
  /** Nodes started one after the other, everything delivered. */
  const started = async (...servers: Array<string>) => {
    const list: Array<Probe> = []
    for (const server of servers) {
      const probe = add(server)
      await probe.node.start()
      list.push(probe)
    }
    await settle()
    return list
  }
  return {
    backplane,
    probes,
    add,
    started,
    advance: (ms: number) => {
      now += ms
    },
    get now() {
      return now
    }
  }
}

/** A topic as a node lists it: `key|server/ref|meta`, sorted (the order of joins may differ between nodes). */
const listed = (node: PresenceNode, topic: string) =>
  Array.from(node.list(topic).entries()).flatMap(([key, entries]) => {
    for (const entry of entries) assert.strictEqual(entry.key, key, "grouped under its key")
    return entries.map((entry) => `${key}|${entry.server}/${entry.ref}|${JSON.stringify(entry.meta)}`)
  }).sort()

/** What the diffs told about a topic, in the same form. */
const viewed = (probe: Probe, topic: string) =>
  Array.from(probe.view.get(topic)?.values() ?? []).map((entry) =>
    `${entry.key}|${entry.server}/${entry.ref}|${JSON.stringify(entry.meta)}`
  ).sort()

/** The truth: each live server's own entries in `topic`. */
const owned = (probes: ReadonlyArray<Probe>, topic: string) =>
  probes.flatMap((probe) =>
    probe.node.state.entriesOf(probe.server).filter((entry) => entry.topic === topic).map((entry) =>
      `${entry.key}|${entry.server}/${entry.ref}|${JSON.stringify(entry.meta)}`
    )
  ).sort()

/** The diffs told since `from`. */
const since = (probe: Probe, from: number) => probe.diffs.slice(from)

const join = (topic: string, ...joins: Array<string>): Shown => ({ topic, joins, leaves: [] })
const leave = (topic: string, ...leaves: Array<string>): Shown => ({ topic, joins: [], leaves })

describe("core/PresenceNode", () => {
  describe("changes between servers", () => {
    it("a join on A reaches B with a join diff; B's copy lists it under its key", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      const mark = b.diffs.length
      a.node.track("1", "room", "ann", { status: "online" })
      assert.deepStrictEqual(since(a, 0), [join("room", `a/1:ann:{"status":"online"}`)], "A tells its own driver")
      assert.deepStrictEqual(listed(b.node, "room"), [], "delivered later, never inside track")
      await settle()
      assert.deepStrictEqual(since(b, mark), [join("room", `a/1:ann:{"status":"online"}`)])
      assert.deepStrictEqual(listed(b.node, "room"), [`ann|a/1|{"status":"online"}`])
      assert.deepStrictEqual(b.node.state.entriesOf("a").map((e) => e.ref), ["1"])
      assert.strictEqual(b.node.state.lastSeq("a"), 2, "A's start was its change 1, the join 2")
      assert.deepStrictEqual(b.failures, [])
      assert.deepStrictEqual(b.gate.reads, ["a"], "only A's start snapshot was read, the join was applied")
    })

    it("a meta update is a leave of the old meta and a join of the new; a leave removes the entry", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      a.node.track("1", "room", "ann", { status: "online" })
      a.node.track("2", "room", "bob", { status: "online" })
      await settle()
      const mark = b.diffs.length
      a.node.track("1", "room", "ann", { status: "away" })
      await settle()
      assert.deepStrictEqual(since(b, mark), [{
        topic: "room",
        joins: [`a/1:ann:{"status":"away"}`],
        leaves: [`a/1:ann:{"status":"online"}`]
      }])
      assert.deepStrictEqual(listed(b.node, "room"), [`ann|a/1|{"status":"away"}`, `bob|a/2|{"status":"online"}`])
      a.node.untrack("1")
      a.node.untrack("1") // nothing: it has none any more
      await settle()
      assert.deepStrictEqual(since(b, mark + 1), [leave("room", `a/1:ann:{"status":"away"}`)])
      assert.deepStrictEqual(listed(b.node, "room"), [`bob|a/2|{"status":"online"}`])
      assert.deepStrictEqual(since(a, 0).length, 4, "A told: two joins, the update, one leave, and no second leave")
    })

    it("a ref moved to another topic leaves the first topic and joins the second, on both servers", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      a.node.track("1", "room", "ann", 1)
      await settle()
      const markA = a.diffs.length
      const markB = b.diffs.length
      a.node.track("1", "lobby", "ann", 2)
      await settle()
      const expected = [leave("room", "a/1:ann:1"), join("lobby", "a/1:ann:2")]
      assert.deepStrictEqual(since(a, markA), expected)
      assert.deepStrictEqual(since(b, markB), expected)
      assert.deepStrictEqual(listed(b.node, "room"), [])
      assert.deepStrictEqual(listed(b.node, "lobby"), ["ann|a/1|2"])
    })

    it("many changes in one go are applied in the order made: B is told what A was told", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      const markA = a.diffs.length
      const markB = b.diffs.length
      for (let i = 0; i < 40; i++) {
        const ref = String(i % 5)
        if (i % 7 === 6) a.node.untrack(ref)
        else a.node.track(ref, `t${i % 3}`, `k${i % 4}`, { i })
      }
      await settle()
      assert.deepStrictEqual(since(b, markB), since(a, markA))
      assert.isAbove(since(b, markB).length, 40)
      for (const topic of ["t0", "t1", "t2"]) assert.deepStrictEqual(listed(b.node, topic), listed(a.node, topic))
      assert.deepStrictEqual(b.gate.reads, ["a"], "no gap, no resync")
    })

    it("a change already applied (or older) is ignored; a server ignores its own changes", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      a.node.track("1", "room", "ann", "online")
      await settle()
      const last = b.node.state.lastSeq("a")
      const mark = b.diffs.length
      const entry = { ref: "1", topic: "room", key: "ann", meta: "forged" }
      b.node.receive({ op: "join", server: "a", seq: last, entry })
      b.node.receive({ op: "join", server: "a", seq: last - 1, entry })
      b.node.receive({ op: "leave", server: "a", seq: last, ref: "1" })
      b.node.receive({ op: "snapshot", server: "a", seq: last })
      await settle()
      assert.deepStrictEqual(since(b, mark), [])
      assert.deepStrictEqual(listed(b.node, "room"), [`ann|a/1|"online"`])
      assert.strictEqual(b.node.state.lastSeq("a"), last)
      assert.deepStrictEqual(b.gate.reads, ["a"], "a snapshot not newer than the copy is not read")
      // A's own change coming back (through the store, or by hand) changes nothing there
      const markA = a.diffs.length
      const readsA = a.gate.reads.length
      a.node.receive({ op: "leave", server: "a", seq: 99, ref: "1" })
      a.node.receive({ op: "down", server: "a", seq: 100 })
      assert.deepStrictEqual(since(a, markA), [])
      assert.deepStrictEqual(listed(a.node, "room"), [`ann|a/1|"online"`])
      assert.strictEqual(a.gate.reads.length, readsA)
    })
  })

  describe("gaps and resyncs", () => {
    it("a change B missed (cut off for one publish) is noticed at the next one: B resyncs A and converges", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      a.node.track("1", "room", "ann", 1)
      await settle()
      b.link.cut = true
      a.node.track("2", "room", "bob", 2)
      await settle()
      b.link.cut = false
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"], "B missed bob")
      const mark = b.diffs.length
      a.node.track("3", "room", "cat", 3)
      await settle()
      assert.deepStrictEqual(b.gate.reads, ["a", "a"], "the gap made B read A again")
      assert.deepStrictEqual(listed(b.node, "room"), listed(a.node, "room"))
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1", "bob|a/2|2", "cat|a/3|3"])
      assert.deepStrictEqual(since(b, mark), [join("room", "a/2:bob:2", "a/3:cat:3")], "only what B did not have")
      assert.strictEqual(b.node.state.lastSeq("a"), 4)
      // and on from there, A's next change applies as usual
      a.node.untrack("2")
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1", "cat|a/3|3"])
      assert.strictEqual(b.gate.reads.length, 2)
    })

    it("a change numbered past the next one is not trusted: B reads A's entries from the store", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      a.node.track("1", "room", "ann", 1)
      await settle()
      const last = b.node.state.lastSeq("a")
      b.node.receive({
        op: "join",
        server: "a",
        seq: last + 2,
        entry: { ref: "9", topic: "room", key: "eve", meta: 9 }
      })
      b.node.receive({ op: "leave", server: "a", seq: last + 3, ref: "1" })
      await settle()
      // the first read; the leave, held meanwhile, is still past the store's number: a second read
      assert.deepStrictEqual(b.gate.reads, ["a", "a", "a"])
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"], "what the store has, not what the gap said")
      assert.strictEqual(b.node.state.lastSeq("a"), last, "the store's number")
    })

    it("changes that arrive during a resync are held, then applied after it in order", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      a.node.track("1", "room", "ann", 1)
      await settle()
      b.link.cut = true
      a.node.track("2", "room", "bob", 2) // missed
      await settle()
      b.link.cut = false
      b.gate.hold = true
      a.node.track("3", "room", "cat", 3) // the gap: B starts reading A (the read sees 1, 2, 3)
      await settle()
      assert.deepStrictEqual(b.gate.reads, ["a", "a"])
      const mark = b.diffs.length
      a.node.track("2", "room", "bob", 22) // these arrive while the read is on its way
      a.node.untrack("1")
      a.node.track("4", "lobby", "dan", 4)
      await settle()
      assert.deepStrictEqual(since(b, mark), [], "held: nothing applied before the resync")
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"])
      b.gate.release()
      await settle()
      assert.deepStrictEqual(since(b, mark), [
        join("room", "a/2:bob:2", "a/3:cat:3"), // the resync
        { topic: "room", joins: ["a/2:bob:22"], leaves: ["a/2:bob:2"] }, // then the held changes, in order
        leave("room", "a/1:ann:1"),
        join("lobby", "a/4:dan:4")
      ])
      assert.deepStrictEqual(listed(b.node, "room"), listed(a.node, "room"))
      assert.deepStrictEqual(listed(b.node, "lobby"), ["dan|a/4|4"])
      assert.strictEqual(b.node.state.lastSeq("a"), 7)
      assert.deepStrictEqual(b.gate.reads, ["a", "a"], "no second resync: the held changes followed the read")
    })

    it("held changes the read already covered are ignored; a held snapshot newer than the read is read again", async () => {
      const { started } = cluster()
      const [, b] = await started("a", "b")
      b.gate.hold = true
      const last = b.node.state.lastSeq("a")
      // a resync by hand; the store has A at `last` when read
      const resynced = b.node.resync("a")
      await b.node.resync("a") // already on its way: no second read
      assert.deepStrictEqual(b.gate.reads, ["a", "a"])
      b.node.receive({ op: "join", server: "a", seq: last, entry: { ref: "x", topic: "room", key: "x", meta: 0 } }) // old
      b.node.receive({ op: "snapshot", server: "a", seq: last + 5 }) // newer than what the read will say
      b.gate.release()
      await resynced
      assert.deepStrictEqual(listed(b.node, "room"), [])
      assert.deepStrictEqual(b.gate.reads, ["a", "a", "a"], "the start read, the resync, then the snapshot's read")
    })

    it("a resync that fails drops what it held; B's next sweep reads A again and converges", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      b.link.cut = true
      a.node.track("1", "room", "ann", 1) // missed
      await settle()
      // the gap is noticed while B is still cut off: the read fails
      b.node.receive({
        op: "join",
        server: "a",
        seq: b.node.state.lastSeq("a") + 2,
        entry: { ref: "1", topic: "room", key: "ann", meta: 1 }
      })
      b.node.receive({ op: "leave", server: "a", seq: b.node.state.lastSeq("a") + 3, ref: "1" }) // held
      await settle()
      assert.deepStrictEqual(b.failures, ["resync"])
      assert.deepStrictEqual(b.gate.reads, ["a", "a"], "the held change was dropped, not replayed into another read")
      assert.deepStrictEqual(listed(b.node, "room"), [])
      b.link.cut = false
      await b.node.sweep()
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"])
      assert.strictEqual(b.node.state.lastSeq("a"), 2)
    })
  })

  describe("sweep", () => {
    it("repairs a change lost on the way when no further change comes: the stored number is ahead", async () => {
      const { started } = cluster()
      const [a, b] = await started("a", "b")
      a.node.track("1", "room", "ann", 1)
      await settle()
      await b.node.sweep()
      assert.deepStrictEqual(b.gate.reads, ["a"], "a sweep with nothing behind reads nothing")
      b.link.cut = true
      a.node.untrack("1") // missed
      a.node.track("2", "lobby", "bob", 2) // missed
      await settle()
      b.link.cut = false
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"], "nothing told B yet")
      const mark = b.diffs.length
      await b.node.sweep()
      await settle()
      assert.deepStrictEqual(b.gate.reads, ["a", "a"])
      assert.deepStrictEqual(listed(b.node, "room"), [])
      assert.deepStrictEqual(listed(b.node, "lobby"), ["bob|a/2|2"])
      assert.sameDeepMembers(since(b, mark), [leave("room", "a/1:ann:1"), join("lobby", "a/2:bob:2")])
      assert.strictEqual(b.node.state.lastSeq("a"), 4)
    })

    it("finds a server it never heard of (it started while B was cut off)", async () => {
      const { add, started } = cluster()
      const [a, b] = await started("a", "b")
      b.link.cut = true
      const c = add("c")
      c.node.track("1", "room", "cy", 1)
      await c.node.start()
      await settle()
      b.link.cut = false
      assert.deepStrictEqual(b.node.state.servers(), ["a"])
      await b.node.sweep()
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), ["cy|c/1|1"])
      assert.deepStrictEqual(listed(a.node, "room"), ["cy|c/1|1"], "A heard C's snapshot")
    })

    it("a server killed (cut off, no heartbeat) is dropped only once its liveness expired, with leaves", async () => {
      const clock = cluster()
      const [a, b, c] = await clock.started("a", "b", "c")
      a.node.track("1", "room", "ann", 1)
      a.node.track("2", "lobby", "ann", 2)
      c.node.track("1", "room", "cy", 3)
      await settle()
      assert.strictEqual(clock.now, 0)
      clock.advance(600)
      await a.node.heartbeat() // alive until 1600
      a.link.cut = true // killed: no more heartbeats
      await c.node.heartbeat()
      clock.advance(999) // 1599
      await b.node.heartbeat()
      await c.node.heartbeat()
      let mark = b.diffs.length
      await b.node.sweep()
      await settle()
      assert.deepStrictEqual(since(b, mark), [], "A is still within its time to live")
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1", "cy|c/1|3"])
      clock.advance(1) // 1600: expired
      mark = b.diffs.length
      await b.node.sweep()
      await settle()
      assert.sameDeepMembers(since(b, mark), [leave("room", "a/1:ann:1"), leave("lobby", "a/2:ann:2")])
      assert.deepStrictEqual(listed(b.node, "room"), ["cy|c/1|3"])
      assert.deepStrictEqual(listed(b.node, "lobby"), [])
      assert.deepStrictEqual(b.node.state.servers().includes("a"), false)
      assert.deepStrictEqual(clock.backplane.serverNames().slice().sort(), ["b", "c"], "the store forgot A")
      // C, whose sweep comes later, drops A too (A is known to C though no longer listed): A's entries
      // are kept a ttl after B forgot it, so that C tells a death from a store restarted empty
      mark = c.diffs.length
      await c.node.sweep()
      assert.sameDeepMembers(since(c, mark), [leave("room", "a/1:ann:1"), leave("lobby", "a/2:ann:2")])
      assert.deepStrictEqual(listed(c.node, "room"), ["cy|c/1|3"])
      clock.advance(TTL)
      assert.deepStrictEqual(clock.backplane.read("a"), { seq: 0, entries: [] }, "then A's entries go")
    })

    it("a server cut off past its time to live comes back with its next heartbeat", async () => {
      const clock = cluster()
      const [a, b] = await clock.started("a", "b")
      a.node.track("1", "room", "ann", 1)
      await settle()
      a.link.cut = true
      clock.advance(TTL)
      let failed = false
      await a.node.heartbeat().catch(() => failed = true)
      assert.isTrue(failed, "a heartbeat while cut off rejects")
      await b.node.heartbeat()
      await b.node.sweep()
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), [])
      a.link.cut = false
      await a.node.heartbeat() // the store says A's liveness is gone: A rewrites everything
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"])
      assert.deepStrictEqual(clock.backplane.serverNames().slice().sort(), ["a", "b"])
      await b.node.sweep()
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"], "A is alive again")
    })
  })

  describe("repairs of the store", () => {
    it("store restarted empty: a sweep or a resync before the owners' heartbeats makes no member leave", async () => {
      const clock = cluster()
      const [a, b] = await clock.started("a", "b")
      a.node.track("1", "room", "ann", { n: 1 })
      b.node.track("1", "room", "bob", { n: 2 })
      await settle()
      clock.backplane.clear()
      const marks = [a.diffs.length, b.diffs.length]
      // B sweeps first: A has neither liveness nor entries stored, which is a restart, not a death (yet)
      await b.node.sweep()
      // B's connection came back and it reads every server again: nothing stored for A, A's kept
      await b.node.start()
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|{\"n\":1}", "bob|b/1|{\"n\":2}"])
      // A's heartbeat rewrites; the next sweeps find it alive
      clock.advance(300)
      await a.node.heartbeat()
      await settle()
      await b.node.sweep()
      await a.node.sweep()
      await settle()
      assert.deepStrictEqual(since(a, marks[0]), [], "no leave and join again on A")
      assert.deepStrictEqual(since(b, marks[1]), [], "nor on B")
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|{\"n\":1}", "bob|b/1|{\"n\":2}"])
      // a server that died and whose entries the store lost too is dropped at the following sweep
      a.link.cut = true
      clock.backplane.clear()
      await b.node.heartbeat()
      await b.node.sweep()
      assert.deepStrictEqual(since(b, marks[1]), [], "one sweep: maybe a restart")
      await b.node.sweep()
      assert.deepStrictEqual(since(b, marks[1]), [leave("room", "a/1:ann:{\"n\":1}")])
    })

    it("store restarted empty: each live server's next heartbeat rewrites it; a node started afterwards lists everyone", async () => {
      const clock = cluster()
      const [a, b] = await clock.started("a", "b")
      a.node.track("1", "room", "ann", { n: 1 })
      a.node.track("2", "lobby", "ann", { n: 2 })
      b.node.track("1", "room", "bob", { n: 3 })
      await settle()
      clock.backplane.clear()
      assert.deepStrictEqual(clock.backplane.serverNames(), [])
      const marks = [a.diffs.length, b.diffs.length]
      clock.advance(300)
      await a.node.heartbeat()
      await b.node.heartbeat()
      await settle()
      assert.deepStrictEqual(clock.backplane.serverNames().slice().sort(), ["a", "b"])
      assert.deepStrictEqual(clock.backplane.read("a").entries.map((e) => e.ref).sort(), ["1", "2"])
      assert.deepStrictEqual(clock.backplane.read("b").entries.map((e) => e.ref), ["1"])
      assert.strictEqual(clock.backplane.read("a").seq, 4, "A's changes 1 to 3, then the rewrite")
      // the others read the rewritten state again, which is what they had: no diff
      assert.deepStrictEqual(since(a, marks[0]), [])
      assert.deepStrictEqual(since(b, marks[1]), [])
      assert.strictEqual(b.node.state.lastSeq("a"), 4)
      await a.node.sweep()
      await b.node.sweep()
      const c = clock.add("c")
      await c.node.start()
      await settle()
      for (const topic of ["room", "lobby"]) {
        const truth = owned(clock.probes, topic)
        assert.deepStrictEqual(listed(c.node, topic), truth)
        assert.deepStrictEqual(listed(a.node, topic), truth)
        assert.deepStrictEqual(listed(b.node, topic), truth)
      }
      assert.deepStrictEqual(listed(c.node, "room"), [`ann|a/1|{"n":1}`, `bob|b/1|{"n":3}`])
    })

    it("a write that failed marks the server dirty: its next heartbeat rewrites and the others converge", async () => {
      const clock = cluster()
      const [a, b] = await clock.started("a", "b")
      a.node.track("1", "room", "ann", 1)
      await settle()
      a.link.cut = true
      a.node.track("2", "room", "bob", 2)
      a.node.untrack("1")
      await settle()
      assert.deepStrictEqual(a.failures, ["write", "write"])
      a.link.cut = false
      assert.deepStrictEqual(clock.backplane.read("a").entries.map((e) => e.ref), ["1"], "the store missed both")
      await b.node.sweep()
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"], "the store is not ahead: a sweep cannot tell")
      const mark = b.diffs.length
      await a.node.heartbeat() // A is still alive in the store, but dirty: it rewrites
      await settle()
      assert.deepStrictEqual(clock.backplane.read("a").entries.map((e) => e.ref), ["2"])
      assert.deepStrictEqual(listed(b.node, "room"), ["bob|a/2|2"])
      assert.sameDeepMembers(since(b, mark), [{ topic: "room", joins: ["a/2:bob:2"], leaves: ["a/1:ann:1"] }])
      // clean again: the next heartbeat only extends the liveness
      const reads = b.gate.reads.length
      await a.node.heartbeat()
      await settle()
      assert.strictEqual(b.gate.reads.length, reads, "no snapshot announced")
    })

    it("a rewrite that failed (cut off at the heartbeat) is tried again at the next heartbeat", async () => {
      const clock = cluster()
      const [a, b] = await clock.started("a", "b")
      a.link.cut = true
      a.node.track("1", "room", "ann", 1)
      await settle()
      let failed = false
      await a.node.heartbeat().catch(() => failed = true)
      assert.isTrue(failed)
      a.link.cut = false
      await a.node.heartbeat()
      await settle()
      assert.deepStrictEqual(listed(b.node, "room"), ["ann|a/1|1"])
    })

    it("stop: the others drop the server at once (no waiting for its time to live); it says nothing after", async () => {
      const clock = cluster()
      const [a, b] = await clock.started("a", "b")
      a.node.track("1", "room", "ann", 1)
      b.node.track("1", "room", "bob", 2)
      await settle()
      const mark = b.diffs.length
      await a.node.stop()
      await settle()
      assert.deepStrictEqual(since(b, mark), [leave("room", "a/1:ann:1")])
      assert.deepStrictEqual(listed(b.node, "room"), ["bob|b/1|2"])
      assert.deepStrictEqual(clock.backplane.serverNames(), ["b"])
      assert.deepStrictEqual(clock.backplane.read("a"), { seq: 0, entries: [] })
      const operations = clock.backplane.operations
      a.node.track("2", "room", "amy", 3)
      await a.node.heartbeat()
      await a.node.sweep()
      await a.node.start()
      await a.node.stop()
      await settle()
      assert.strictEqual(clock.backplane.operations, operations, "a stopped node does not touch the store")
      assert.deepStrictEqual(listed(b.node, "room"), ["bob|b/1|2"])
      await b.node.sweep()
      assert.deepStrictEqual(listed(b.node, "room"), ["bob|b/1|2"])
      // and it applies nobody's changes any more
      const markA = a.diffs.length
      b.node.track("2", "room", "bea", 4)
      await settle()
      assert.deepStrictEqual(since(a, markA), [])
    })

    it("after stop, the node tells its driver no diffs (its doc: local subscribers get no diffs from here on)", async () => {
      const clock = cluster()
      const [a] = await clock.started("a")
      a.node.track("1", "room", "ann", 1)
      await a.node.stop()
      const mark = a.diffs.length
      a.node.track("2", "room", "amy", 2)
      a.node.untrack("1")
      assert.deepStrictEqual(since(a, mark), [])
    })

    it("a node without a store: diffs locally, nothing to repair", async () => {
      const diffs: Array<Shown> = []
      const node = new PresenceNode("solo", undefined, TTL, {
        diff: (topic, diff) => diffs.push({ topic, joins: diff.joins.map(show), leaves: diff.leaves.map(show) })
      })
      await node.start()
      node.track("1", "room", "ann", 1)
      node.track("1", "room", "ann", 2)
      node.untrack("1")
      await node.heartbeat()
      await node.sweep()
      await node.resync("other")
      assert.deepStrictEqual(diffs, [
        join("room", "solo/1:ann:1"),
        { topic: "room", joins: ["solo/1:ann:2"], leaves: ["solo/1:ann:1"] },
        leave("room", "solo/1:ann:2")
      ])
      assert.deepStrictEqual(listed(node, "room"), [])
      await node.stop()
    })
  })

  describe("the change format", () => {
    it("decodeChange reads what encodeChange writes", () => {
      const changes: Array<Change> = [
        { op: "join", server: "a", seq: 1, entry: { ref: "r", topic: "t", key: "k", meta: { x: [1, null] } } },
        { op: "join", server: "a", seq: 2, entry: { ref: "r", topic: "t", key: "k", meta: null } },
        { op: "leave", server: "a", seq: 3, ref: "r" },
        { op: "snapshot", server: "a", seq: 4 },
        { op: "down", server: "a", seq: 5 }
      ]
      for (const change of changes) assert.deepStrictEqual(decodeChange(encodeChange(change)), change)
    })

    it("decodeChange rejects what is not a change", () => {
      const garbage = [
        "",
        "not json",
        "{",
        "null",
        "1",
        `"join"`,
        "[]",
        "{}",
        `{"op":"snapshot","seq":1}`, // no server
        `{"op":"snapshot","server":1,"seq":1}`,
        `{"op":"snapshot","server":"a"}`, // no seq
        `{"op":"snapshot","server":"a","seq":"1"}`,
        `{"op":"snapshot","server":"a","seq":1.5}`,
        `{"op":"snapshot","server":"a","seq":null}`,
        `{"op":"other","server":"a","seq":1}`,
        `{"server":"a","seq":1}`,
        `{"op":"join","server":"a","seq":1}`, // no entry
        `{"op":"join","server":"a","seq":1,"entry":null}`,
        `{"op":"join","server":"a","seq":1,"entry":"r"}`,
        `{"op":"join","server":"a","seq":1,"entry":{"ref":"r","topic":"t","key":"k"}}`, // no meta
        `{"op":"join","server":"a","seq":1,"entry":{"ref":1,"topic":"t","key":"k","meta":1}}`,
        `{"op":"join","server":"a","seq":1,"entry":{"ref":"r","topic":null,"key":"k","meta":1}}`,
        `{"op":"join","server":"a","seq":1,"entry":{"ref":"r","topic":"t","meta":1}}`,
        `{"op":"leave","server":"a","seq":1}`, // no ref
        `{"op":"leave","server":"a","seq":1,"ref":7}`
      ]
      for (const text of garbage) assert.isUndefined(decodeChange(text), text)
    })

    it("sameJson is structural equality of JSON values", () => {
      const same: Array<[unknown, unknown]> = [
        [1, 1],
        ["a", "a"],
        [null, null],
        [true, true],
        [{}, {}],
        [[], []],
        [{ a: 1, b: [1, { c: "x" }] }, { b: [1, { c: "x" }], a: 1 }],
        [[1, [2, [3]]], [1, [2, [3]]]]
      ]
      const different: Array<[unknown, unknown]> = [
        [1, 2],
        [1, "1"],
        [0, false],
        [null, {}],
        [{}, null],
        [null, undefined],
        [[], {}],
        [{}, []],
        [[1, 2], { 0: 1, 1: 2 }],
        [[1, 2], [2, 1]],
        [[1], [1, 2]],
        [{ a: 1 }, { a: 1, b: 2 }],
        [{ a: 1, b: 2 }, { a: 1 }],
        [{ a: undefined }, { b: undefined }],
        [{ a: { b: 1 } }, { a: { b: 2 } }],
        [{ a: [1] }, { a: 1 }]
      ]
      for (const [a, b] of same) assert.isTrue(sameJson(a, b), `${JSON.stringify(a)} = ${JSON.stringify(b)}`)
      for (const [a, b] of different) {
        assert.isFalse(sameJson(a, b), `${JSON.stringify(a)} != ${JSON.stringify(b)}`)
        assert.isFalse(sameJson(b, a), `${JSON.stringify(b)} != ${JSON.stringify(a)}`)
      }
    })
  })

  describe("convergence", () => {
    /** A deterministic pseudo-random generator (mulberry32). */
    const prng = (seed: number) => () => {
      seed = (seed + 0x6D2B79F5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }

    const topics = ["t0", "t1", "t2"]

    /**
     * A few hundred random steps on 3 servers (and, with `churn`, servers stopping and new ones starting):
     * changes, cuts and restorations, heartbeats and sweeps not waited for, the clock moving on, the store
     * restarted empty, reads answered late, deliveries let through part way. Then everyone is reachable
     * again, each live server heartbeats and sweeps once, and every live copy must list, in every topic,
     * exactly the union of each live server's own entries, and its diffs must have told just that.
     */
    const run = async (seed: number, churn: boolean) => {
      const random = prng(seed)
      const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]
      const clock = cluster()
      const live = await clock.started("a", "b", "c")
      const ignore = () => {}
      const counts = { cuts: 0, holds: 0, clears: 0, stops: 0, starts: 0 }
      for (let step = 0; step < 400; step++) {
        const probe = pick(live)
        const roll = random()
        if (roll < 0.4) {
          probe.node.track(`r${Math.floor(random() * 5)}`, pick(topics), pick(["k0", "k1", "k2"]), {
            v: Math.floor(random() * 3)
          })
        } else if (roll < 0.55) {
          probe.node.untrack(`r${Math.floor(random() * 5)}`)
        } else if (roll < 0.62) {
          // cut off, or only one half of its connection lost
          const how = random()
          if (how < 0.6) probe.link.cut = true
          else if (how < 0.8) probe.gate.mute = true
          else probe.gate.deaf = true
          counts.cuts++
        } else if (roll < 0.72) {
          probe.link.cut = false
          probe.gate.mute = false
          probe.gate.deaf = false
        } else if (roll < 0.82) {
          probe.node.heartbeat().catch(ignore)
        } else if (roll < 0.88) {
          probe.node.sweep().catch(ignore)
        } else if (roll < 0.95) {
          clock.advance(Math.floor(random() * 600))
        } else if (roll < 0.96) {
          clock.backplane.clear()
          counts.clears++
        } else if (roll < 0.97) {
          probe.gate.hold = true // its reads answered later, as over a slow connection
          counts.holds++
        } else if (roll < 0.98) {
          probe.gate.release()
        } else if (churn && roll < 0.99) {
          if (live.length > 2 && random() < 0.5) {
            // a server leaves (its "down" may not get through if it is cut off: then its time to live ends it)
            live.splice(live.indexOf(probe), 1)
            probe.node.stop().catch(ignore)
            counts.stops++
          } else {
            const fresh = clock.add(`n${++counts.starts}`)
            live.push(fresh)
            if (random() < 0.5) fresh.node.track("r0", pick(topics), "k0", { v: 0 }) // tracked before it starts
            fresh.node.start().catch(ignore)
          }
        } else {
          // let some deliveries through, not necessarily all
          for (let i = Math.floor(random() * 6); i > 0; i--) await Promise.resolve()
        }
        if (random() < 0.2) await settle()
      }
      assert.isAbove(counts.cuts, 5, "the run cut servers off")
      assert.isAbove(counts.holds, 0, "the run delayed reads")
      if (churn) assert.isAbove(counts.stops + counts.starts, 0, "servers came and went")
      for (const probe of clock.probes) {
        probe.link.cut = false
        probe.gate.mute = false
        probe.gate.deaf = false
        probe.gate.release()
      }
      await settle()
      // a server stopped while cut off is still alive in the store until its time to live ends
      if (churn) clock.advance(TTL)
      for (const probe of live) await probe.node.heartbeat()
      await settle()
      for (const probe of live) await probe.node.sweep()
      await settle()
      // a dead server with nothing left in the store (a clear came after it died) looks like a store
      // restarted empty: it is dropped at the second sweep, which a live server's heartbeat precedes
      for (const probe of live) await probe.node.heartbeat()
      for (const probe of live) await probe.node.sweep()
      await settle()
      let total = 0
      for (const topic of topics) {
        const truth = owned(live, topic)
        total += truth.length
        for (const probe of live) {
          assert.deepStrictEqual(listed(probe.node, topic), truth, `${probe.server}'s list of ${topic}`)
          assert.deepStrictEqual(viewed(probe, topic), truth, `${probe.server}'s diffs of ${topic}`)
        }
      }
      assert.isAbove(total, 0, "something is tracked at the end")
      // and the store holds each live server's own entries, which a new node reads
      const late = clock.add("late")
      await late.node.start()
      await settle()
      for (const topic of topics) assert.deepStrictEqual(listed(late.node, topic), owned(live, topic))
      assert.sameMembers(clock.backplane.serverNames().slice(), [...live, late].map((probe) => probe.server))
    }

    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      it(`3 servers, random changes, cuts, restarts, slow reads, heartbeats and sweeps: every copy converges (seed ${seed})`, () =>
        run(seed, false))
    }

    for (const seed of [11, 13, 14, 15, 16, 17]) {
      it(`the same with servers stopping and starting: every live copy converges (seed ${seed})`, () => run(seed, true))
    }
  })
})
