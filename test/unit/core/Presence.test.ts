// Presence state on plain objects: entries owned by servers, grouped by key, diffs of puts, removals,
// a server dropped whole or replaced by a resync, and the per-server change numbers that detect a gap.
import { assert, describe, it } from "@effect/vitest"
import { type Entry, PresenceState } from "../../../src/internal/core/presence.js"

interface Meta {
  readonly status: string
}

const entry = (server: string, ref: string, topic: string, key: string, status = "online"): Entry<Meta> => ({
  server,
  ref,
  topic,
  key,
  meta: { status }
})

const sameMeta = (a: Meta, b: Meta) => a.status === b.status
const refs = (entries: ReadonlyArray<Entry<Meta>>) => entries.map((e) => `${e.server}/${e.ref}`)
const listed = (state: PresenceState<Meta>, topic: string) =>
  Object.fromEntries(Array.from(state.list(topic), ([key, entries]) => [key, refs(entries)]))

describe("core/Presence", () => {
  it("lists a topic's entries grouped by key, across servers, in join order", () => {
    const state = new PresenceState<Meta>()
    state.put(entry("a", "1", "room", "ann"))
    state.put(entry("b", "1", "room", "bob"))
    state.put(entry("b", "2", "room", "ann"))
    state.put(entry("a", "2", "lobby", "ann"))
    assert.deepStrictEqual(listed(state, "room"), { ann: ["a/1", "b/2"], bob: ["b/1"] })
    assert.deepStrictEqual(listed(state, "lobby"), { ann: ["a/2"] })
    assert.deepStrictEqual(listed(state, "empty"), {})
  })

  it("a put is a join; putting the same ref again replaces its meta (a leave and a join)", () => {
    const state = new PresenceState<Meta>()
    const first = state.put(entry("a", "1", "room", "ann"))
    assert.deepStrictEqual([refs(first.joins), refs(first.leaves)], [["a/1"], []])
    const update = state.put(entry("a", "1", "room", "ann", "away"))
    assert.deepStrictEqual(update.leaves.map((e) => e.meta.status), ["online"])
    assert.deepStrictEqual(update.joins.map((e) => e.meta.status), ["away"])
    assert.deepStrictEqual(state.list("room").get("ann")?.map((e) => e.meta.status), ["away"])
  })

  it("a ref moved to another topic leaves the first", () => {
    const state = new PresenceState<Meta>()
    state.put(entry("a", "1", "room", "ann"))
    const moved = state.put(entry("a", "1", "lobby", "ann"))
    assert.deepStrictEqual(moved.leaves.map((e) => e.topic), ["room"])
    assert.deepStrictEqual(listed(state, "room"), {})
    assert.deepStrictEqual(listed(state, "lobby"), { ann: ["a/1"] })
  })

  it("removes one entry by its owner and ref, once", () => {
    const state = new PresenceState<Meta>()
    state.put(entry("a", "1", "room", "ann"))
    state.put(entry("b", "1", "room", "bob"))
    assert.strictEqual(state.remove("a", "1")?.key, "ann")
    assert.isUndefined(state.remove("a", "1"))
    // the same ref of another server is another entry
    assert.isUndefined(state.remove("a", "2"))
    assert.deepStrictEqual(listed(state, "room"), { bob: ["b/1"] })
  })

  it("drops everything a server owned, as leaves by topic", () => {
    const state = new PresenceState<Meta>()
    state.put(entry("a", "1", "room", "ann"))
    state.put(entry("a", "2", "lobby", "ann"))
    state.put(entry("b", "1", "room", "bob"))
    const leaves = state.dropServer("a")
    assert.deepStrictEqual(
      Object.fromEntries(Array.from(leaves, ([topic, diff]) => [topic, [refs(diff.joins), refs(diff.leaves)]])),
      { room: [[], ["a/1"]], lobby: [[], ["a/2"]] }
    )
    assert.deepStrictEqual(listed(state, "room"), { bob: ["b/1"] })
    assert.deepStrictEqual(state.entriesOf("a"), [])
    assert.deepStrictEqual(state.servers(), ["b"])
    assert.strictEqual(state.dropServer("a").size, 0)
  })

  it("a resync replaces what a server owns and reports only what changed", () => {
    const state = new PresenceState<Meta>()
    state.put(entry("a", "1", "room", "ann"))
    state.put(entry("a", "2", "room", "amy"))
    state.put(entry("a", "3", "lobby", "al"))
    state.put(entry("b", "1", "room", "bob"))
    const diffs = state.replaceServer(
      "a",
      [
        entry("a", "1", "room", "ann"), // unchanged
        entry("a", "2", "room", "amy", "away"), // meta changed
        entry("a", "4", "lobby", "ash"), // new
        entry("b", "9", "room", "not a's") // not the server's own: ignored
      ],
      7,
      sameMeta
    )
    assert.deepStrictEqual(
      Object.fromEntries(Array.from(diffs, ([topic, diff]) => [topic, [refs(diff.joins), refs(diff.leaves)]])),
      { room: [["a/2"], ["a/2"]], lobby: [["a/4"], ["a/3"]] }
    )
    assert.deepStrictEqual(listed(state, "room"), { ann: ["a/1"], bob: ["b/1"], amy: ["a/2"] })
    assert.deepStrictEqual(listed(state, "lobby"), { ash: ["a/4"] })
    assert.strictEqual(state.lastSeq("a"), 7)
    assert.strictEqual(state.sequence("a", 7), "stale")
    assert.strictEqual(state.sequence("a", 8), "apply")
  })

  it("numbers each server's changes: the next applies, a repeat is stale, a skip is a gap", () => {
    const state = new PresenceState<Meta>()
    assert.strictEqual(state.lastSeq("a"), 0)
    assert.strictEqual(state.sequence("a", 1), "apply")
    assert.strictEqual(state.sequence("a", 2), "apply")
    assert.strictEqual(state.sequence("a", 2), "stale")
    assert.strictEqual(state.sequence("a", 1), "stale")
    assert.strictEqual(state.sequence("a", 4), "gap")
    // a gap is not recorded: the server is resynced instead
    assert.strictEqual(state.lastSeq("a"), 2)
    // each server counts on its own
    assert.strictEqual(state.sequence("b", 1), "apply")
    assert.strictEqual(state.sequence("b", 3), "gap")
  })
})
