// Numbering per topic on plain objects: a stream per topic and server counting 1, 2, 3..., the last
// number of a topic, and a bounded map of topics where the least recently used is forgotten and starts
// a new stream when used again.
import { assert, describe, it } from "@effect/vitest"
import { Sequencer } from "../../../src/internal/core/sequence.js"

describe("core/Sequence", () => {
  it("numbers each topic's messages 1, 2, 3... within one stream", () => {
    const sequencer = new Sequencer("srv", 10)
    const first = sequencer.next("room")
    assert.strictEqual(first.seq, 1)
    assert.isTrue(first.stream.startsWith("srv."), "the stream is named after the server")
    assert.deepStrictEqual(sequencer.next("room"), { stream: first.stream, seq: 2 })
    assert.deepStrictEqual(sequencer.next("room"), { stream: first.stream, seq: 3 })
  })

  it("current is the last number given (0 before any), in the stream the next one continues", () => {
    const sequencer = new Sequencer("srv", 10)
    const before = sequencer.current("room")
    assert.strictEqual(before.seq, 0)
    assert.deepStrictEqual(sequencer.current("room"), before, "asking does not count")
    assert.deepStrictEqual(sequencer.next("room"), { stream: before.stream, seq: 1 })
    assert.deepStrictEqual(sequencer.next("room"), { stream: before.stream, seq: 2 })
    assert.deepStrictEqual(sequencer.current("room"), { stream: before.stream, seq: 2 })
    assert.deepStrictEqual(sequencer.next("room"), { stream: before.stream, seq: 3 })
  })

  it("each topic has its own stream and its own count", () => {
    const sequencer = new Sequencer("srv", 10)
    const a1 = sequencer.next("a")
    const b1 = sequencer.next("b")
    const a2 = sequencer.next("a")
    const c1 = sequencer.next("c")
    const b2 = sequencer.next("b")
    assert.deepStrictEqual([a1.seq, b1.seq, a2.seq, c1.seq, b2.seq], [1, 1, 2, 1, 2])
    assert.strictEqual(a2.stream, a1.stream)
    assert.strictEqual(b2.stream, b1.stream)
    assert.strictEqual(new Set([a1.stream, b1.stream, c1.stream]).size, 3)
    assert.strictEqual(sequencer.size, 3)
  })

  it("two servers never share a stream, even for the same topic", () => {
    const one = new Sequencer("one", 10)
    const two = new Sequencer("two", 10)
    const streams = new Set<string>()
    for (const topic of ["a", "b", "c"]) {
      streams.add(one.next(topic).stream)
      streams.add(two.next(topic).stream)
    }
    assert.strictEqual(streams.size, 6)
    // and each server counts on its own
    assert.strictEqual(one.next("a").seq, 2)
    assert.strictEqual(one.next("a").seq, 3)
    assert.strictEqual(two.next("a").seq, 2)
  })

  it("beyond its capacity it forgets the least recently used topic, which starts a new stream at 1", () => {
    const sequencer = new Sequencer("srv", 2)
    const a = sequencer.next("a")
    sequencer.next("a")
    const b = sequencer.next("b")
    assert.strictEqual(sequencer.size, 2)
    const c = sequencer.next("c") // "a" is the oldest: forgotten
    assert.strictEqual(sequencer.size, 2)
    assert.strictEqual(c.seq, 1)
    assert.deepStrictEqual(sequencer.next("b"), { stream: b.stream, seq: 2 }, "b is kept")
    const again = sequencer.next("a") // now "c" is the oldest: forgotten
    assert.strictEqual(again.seq, 1)
    assert.notStrictEqual(again.stream, a.stream, "a new stream: a receiver of the old one sees a new start")
    assert.strictEqual(sequencer.size, 2)
    assert.deepStrictEqual(sequencer.next("b"), { stream: b.stream, seq: 3 })
    const cAgain = sequencer.next("c")
    assert.strictEqual(cAgain.seq, 1)
    assert.notStrictEqual(cAgain.stream, c.stream)
  })

  it("a recently used topic is not the one forgotten (next and current both count as a use)", () => {
    const sequencer = new Sequencer("srv", 3)
    const a = sequencer.next("a")
    const b = sequencer.next("b")
    const c = sequencer.next("c")
    sequencer.next("a") // order of use now: b, c, a
    sequencer.next("d") // forgets b
    assert.deepStrictEqual(sequencer.next("a"), { stream: a.stream, seq: 3 })
    assert.deepStrictEqual(sequencer.current("c"), { stream: c.stream, seq: 1 }) // order: d, a, c
    sequencer.next("e") // forgets d
    assert.deepStrictEqual(sequencer.next("c"), { stream: c.stream, seq: 2 })
    assert.deepStrictEqual(sequencer.next("a"), { stream: a.stream, seq: 4 })
    const bAgain = sequencer.current("b") // forgets e
    assert.strictEqual(bAgain.seq, 0)
    assert.notStrictEqual(bAgain.stream, b.stream)
    assert.strictEqual(sequencer.size, 3)
    assert.strictEqual(sequencer.next("e").seq, 1, "e was forgotten")
  })

  it("a capacity of one keeps only the last topic", () => {
    const sequencer = new Sequencer("srv", 1)
    const a = sequencer.next("a")
    assert.deepStrictEqual(sequencer.next("a"), { stream: a.stream, seq: 2 })
    sequencer.next("b")
    assert.strictEqual(sequencer.size, 1)
    const again = sequencer.next("a")
    assert.strictEqual(again.seq, 1)
    assert.notStrictEqual(again.stream, a.stream)
  })

  it("stream names are never reused, however many topics come and go", () => {
    const sequencer = new Sequencer("srv", 4)
    const streams = new Set<string>()
    let given = 0
    for (let round = 0; round < 50; round++) {
      for (const topic of ["a", "b", "c", "d", "e"]) {
        const position = sequencer.next(topic)
        // five topics used in turn with room for four: each is always the one forgotten, so always new
        assert.strictEqual(position.seq, 1)
        streams.add(position.stream)
        given++
      }
    }
    assert.strictEqual(streams.size, given)
    assert.strictEqual(sequencer.size, 4)
  })
})
