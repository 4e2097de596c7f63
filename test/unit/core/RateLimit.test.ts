// The rate limiter of the core: token buckets on numbers alone, no Effect, no clock.
import { assert, describe, it } from "@effect/vitest"
import { RateLimit, type RateSettings } from "../../../src/internal/core/rate.js"

const settings = (overrides: Partial<RateSettings>): RateSettings => ({
  messagesPerSecond: Number.POSITIVE_INFINITY,
  messageBurst: 1,
  bytesPerSecond: Number.POSITIVE_INFINITY,
  byteBurst: 1,
  onExceeded: "close",
  ...overrides
})

describe("core/RateLimit", () => {
  describe("admit", () => {
    it("admits a burst at once, then one message per 1/rate seconds", () => {
      const limit = new RateLimit(settings({ messagesPerSecond: 10, messageBurst: 3 }), 0)
      assert.deepStrictEqual([0, 0, 0, 0].map(() => limit.admit(0, 1)), [true, true, true, false])
      assert.isFalse(limit.admit(99, 1))
      assert.isTrue(limit.admit(100, 1))
      assert.isFalse(limit.admit(100, 1))
    })

    it("refills up to the burst, never beyond", () => {
      const limit = new RateLimit(settings({ messagesPerSecond: 10, messageBurst: 2 }), 0)
      assert.isTrue(limit.admit(0, 1))
      assert.isTrue(limit.admit(0, 1))
      // an hour later the bucket holds 2, not 36,000
      const later = 3_600_000
      assert.deepStrictEqual([0, 0, 0].map(() => limit.admit(later, 1)), [true, true, false])
    })

    it("counts bytes; a refused message takes nothing from either bucket", () => {
      const limit = new RateLimit(
        settings({ messagesPerSecond: 100, messageBurst: 100, bytesPerSecond: 1000, byteBurst: 1000 }),
        0
      )
      assert.isTrue(limit.admit(0, 600))
      assert.isFalse(limit.admit(0, 600))
      assert.isTrue(limit.admit(0, 400))
      assert.isFalse(limit.admit(0, 1))
      assert.isTrue(limit.admit(500, 500))
    })
  })

  describe("charge", () => {
    it("takes whatever the limit and says how long until one more message fits", () => {
      const limit = new RateLimit(settings({ messagesPerSecond: 10, messageBurst: 2 }), 0)
      assert.strictEqual(limit.charge(0, 1), 0)
      assert.strictEqual(limit.charge(0, 1), 100)
      // a message already read when reading stopped is charged: the debt is waited out too
      assert.strictEqual(limit.charge(0, 1), 200)
      assert.strictEqual(limit.wait(150), 50)
      assert.strictEqual(limit.wait(200), 0)
    })

    it("waits out a bytes debt", () => {
      const limit = new RateLimit(settings({ bytesPerSecond: 1000, byteBurst: 1000 }), 0)
      assert.strictEqual(limit.charge(0, 1000), 0)
      assert.strictEqual(limit.charge(0, 500), 500)
      assert.strictEqual(limit.wait(499), 1)
      assert.strictEqual(limit.wait(500), 0)
    })
  })
})
