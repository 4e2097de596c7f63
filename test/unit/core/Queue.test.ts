// The inbox's bookkeeping: when reading stops and starts, by count, by bytes and by the rate limit.
import { assert, describe, it } from "@effect/vitest"
import { Queue } from "../../../src/internal/core/queue.js"

describe("core/Queue", () => {
  it("keeps items in order; takeAll takes everything at once", () => {
    const queue = new Queue<string>(10, 1000)
    assert.isTrue(queue.isEmpty())
    for (const item of ["a", "b", "c"]) queue.push(item, 1, true)
    assert.deepStrictEqual(queue.takeAll(), ["a", "b", "c"])
    assert.isTrue(queue.isEmpty())
    assert.deepStrictEqual(queue.takeAll(), [])
  })

  it("stops reading at capacity, once, and starts again when the loop takes the batch", () => {
    const queue = new Queue<number>(3, 1_000_000)
    assert.deepStrictEqual([1, 2, 3, 4].map((n) => queue.push(n, 1, true)), [false, false, true, false])
    assert.isFalse(queue.hasSpace())
    queue.takeAll()
    assert.isTrue(queue.hasSpace())
    assert.isTrue(queue.resumes())
    assert.isFalse(queue.resumes(), "once")
  })

  it("stops reading at byteLimit; the batch's bytes count until it is handled", () => {
    const queue = new Queue<number>(100, 3000)
    assert.isFalse(queue.push(1, 1000, true))
    assert.isFalse(queue.push(2, 1000, true))
    assert.isTrue(queue.push(3, 1000, true))
    queue.takeAll()
    assert.isFalse(queue.resumes(), "taken is not handled: the bytes are still held")
    assert.isFalse(queue.push(4, 1000, true), "already stopped")
    queue.handled()
    assert.isTrue(queue.resumes(), "item 4's 1,000 bytes are under the limit")
  })

  it("starts reading once what is held falls under both bounds", () => {
    const queue = new Queue<number>(100, 3000)
    queue.push(1, 2000, true)
    queue.push(2, 2000, true)
    queue.takeAll()
    queue.push(3, 500, true)
    queue.handled()
    assert.isTrue(queue.resumes(), "500 bytes held now")
  })

  it("only the peer's messages stop reading; the loop's own items do not", () => {
    const queue = new Queue<string>(1, 10)
    assert.isFalse(queue.push("closing", 0, false))
    assert.isFalse(queue.push("custom", 0, false))
    assert.isTrue(queue.push("data", 1, true))
  })

  it("throttled, reading stays stopped whatever the queue holds, until unthrottled", () => {
    const queue = new Queue<number>(10, 1000)
    assert.isTrue(queue.throttle())
    assert.isFalse(queue.resumes())
    queue.unthrottle()
    assert.isTrue(queue.resumes())
    queue.push(1, 1000, true)
    assert.isFalse(queue.throttle(), "already stopped by the bytes")
    queue.unthrottle()
    assert.isFalse(queue.resumes(), "the bytes still hold it")
  })

  it("closed, it drops what it held and refuses more", () => {
    const queue = new Queue<number>(1, 10)
    queue.push(1, 1, true)
    queue.close()
    assert.isTrue(queue.isEmpty())
    assert.isFalse(queue.push(2, 100, true))
    assert.isTrue(queue.isEmpty())
    assert.isTrue(queue.hasSpace())
  })
})
