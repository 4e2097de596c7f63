// A route's connection counts on one server: the total and per address, on plain values.
import { assert, describe, it } from "@effect/vitest"
import { Counts } from "../../../src/internal/core/limits.js"

describe("core/Limits", () => {
  it("refuses past the total, and past the share of one address; a freed slot fits again", () => {
    const counts = new Counts(3, 2)
    counts.add("a")
    counts.add("a")
    assert.strictEqual(counts.refuse("a"), "address")
    assert.isUndefined(counts.refuse("b"))
    counts.add("b")
    assert.strictEqual(counts.refuse("c"), "total")
    counts.remove("a")
    assert.isUndefined(counts.refuse("a"))
  })

  it("no limit: Infinity counts nothing per address", () => {
    const counts = new Counts(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)
    for (let i = 0; i < 1000; i++) counts.add("a")
    assert.isUndefined(counts.refuse("a"))
  })
})
