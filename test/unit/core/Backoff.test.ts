// The client's reconnection policy on plain numbers: the waits, which closes are retried, and what is
// wrong with a policy's numbers.
import { assert, describe, it } from "@effect/vitest"
import * as Backoff from "../../../src/internal/core/backoff.js"

const policy = (overrides: Partial<Backoff.Backoff> = {}): Backoff.Backoff => ({ ...Backoff.defaults, ...overrides })

describe("core/Backoff", () => {
  describe("defaults", () => {
    it("wait 0.5 s, doubling up to 5 s, half of it at random, without a limit of attempts", () => {
      assert.strictEqual(Backoff.defaults.initial, 500)
      assert.strictEqual(Backoff.defaults.max, 5000)
      assert.strictEqual(Backoff.defaults.factor, 2)
      assert.strictEqual(Backoff.defaults.jitter, 0.5)
      assert.strictEqual(Backoff.defaults.maxAttempts, Infinity)
      assert.isUndefined(Backoff.invalid(Backoff.defaults))
    })

    it("retry the closes another try can help, the client's own heartbeat timeout and full buffer among them", () => {
      assert.deepStrictEqual([...Backoff.defaults.retryOn].sort(), [1001, 1006, 1011, 1012, 1013, 4000, 4001])
      for (const code of [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4002, 4999]) {
        assert.isFalse(Backoff.defaults.retryOn.has(code), String(code))
      }
    })
  })

  describe("delay", () => {
    it("with jitter 0, is the whole wait whatever the draw", () => {
      const exact = policy({ jitter: 0 })
      for (const random of [0, 0.5, 0.999]) {
        assert.strictEqual(Backoff.delay(exact, 1, random), 500)
        assert.strictEqual(Backoff.delay(exact, 3, random), 2000)
      }
    })

    it("doubles with each attempt up to max, and stays there", () => {
      const exact = policy({ jitter: 0 })
      assert.deepStrictEqual(
        [1, 2, 3, 4, 5, 6, 10, 100, 5000].map((attempt) => Backoff.delay(exact, attempt, 0)),
        [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000]
      )
    })

    it("takes the factor and the first wait it is given", () => {
      const slow = policy({ initial: 100, max: 10_000, factor: 3, jitter: 0 })
      assert.deepStrictEqual([1, 2, 3, 4, 5].map((attempt) => Backoff.delay(slow, attempt, 0)), [
        100,
        300,
        900,
        2700,
        8100
      ])
      const flat = policy({ initial: 250, max: 250, factor: 1, jitter: 0 })
      assert.deepStrictEqual([1, 2, 9].map((attempt) => Backoff.delay(flat, attempt, 0.7)), [250, 250, 250])
    })

    it("attempt 0 or below waits the first wait", () => {
      assert.strictEqual(Backoff.delay(policy({ jitter: 0 }), 0, 0), 500)
      assert.strictEqual(Backoff.delay(policy({ jitter: 0 }), -3, 0), 500)
    })

    it("with jitter 0.5, is between half and all of the wait: all for a draw of 0, about half for 0.999", () => {
      const half = policy({ jitter: 0.5 })
      assert.strictEqual(Backoff.delay(half, 1, 0), 500)
      assert.strictEqual(Backoff.delay(half, 1, 0.999), 250)
      assert.strictEqual(Backoff.delay(half, 5, 0), 5000)
      assert.strictEqual(Backoff.delay(half, 5, 0.999), 2502)
      for (let attempt = 1; attempt <= 8; attempt++) {
        const ceiling = Math.min(5000, 500 * 2 ** (attempt - 1))
        for (const random of [0, 0.1, 0.5, 0.9, 0.999]) {
          const wait = Backoff.delay(half, attempt, random)
          assert.isAtLeast(wait, ceiling / 2, `attempt ${attempt}, draw ${random}`)
          assert.isAtMost(wait, ceiling, `attempt ${attempt}, draw ${random}`)
        }
      }
    })

    it("with jitter 1, is anywhere from almost nothing to all of the wait", () => {
      const full = policy({ jitter: 1 })
      assert.strictEqual(Backoff.delay(full, 1, 0), 500)
      assert.strictEqual(Backoff.delay(full, 1, 0.999), 1)
      assert.strictEqual(Backoff.delay(full, 5, 0.999), 5)
      assert.strictEqual(Backoff.delay(full, 3, 0.5), 1000)
    })

    it("a larger draw never waits longer", () => {
      const half = policy()
      let last = Infinity
      for (const random of [0, 0.25, 0.5, 0.75, 0.999]) {
        const wait = Backoff.delay(half, 2, random)
        assert.isAtMost(wait, last)
        last = wait
      }
    })
  })

  describe("retries", () => {
    it("retries the codes of retryOn only", () => {
      assert.isTrue(Backoff.retries(policy(), 1006, 0))
      assert.isTrue(Backoff.retries(policy(), 4000, 5))
      assert.isFalse(Backoff.retries(policy(), 1000, 0))
      assert.isFalse(Backoff.retries(policy(), 1008, 0))
      const custom = policy({ retryOn: new Set([4100]) })
      assert.isTrue(Backoff.retries(custom, 4100, 0))
      assert.isFalse(Backoff.retries(custom, 1006, 0))
    })

    it("gives up after maxAttempts attempts in a row", () => {
      const three = policy({ maxAttempts: 3 })
      assert.deepStrictEqual([0, 1, 2, 3, 4].map((attempts) => Backoff.retries(three, 1006, attempts)), [
        true,
        true,
        true,
        false,
        false
      ])
      assert.isFalse(Backoff.retries(policy({ maxAttempts: 0 }), 1006, 0), "maxAttempts 0 never reconnects")
      assert.isTrue(Backoff.retries(policy(), 1006, 1_000_000), "no limit by default")
    })
  })

  describe("invalid", () => {
    it("accepts the edges of each range", () => {
      for (
        const ok of [
          policy({ initial: 0, max: 0 }),
          policy({ max: 500 }),
          policy({ factor: 1 }),
          policy({ jitter: 0 }),
          policy({ jitter: 1 }),
          policy({ maxAttempts: 0 }),
          policy({ maxAttempts: Infinity }),
          policy({ retryOn: new Set([1000, 4999]) }),
          policy({ retryOn: new Set() })
        ]
      ) {
        assert.isUndefined(Backoff.invalid(ok))
      }
    })

    it("names each bad field", () => {
      const cases: ReadonlyArray<readonly [Partial<Backoff.Backoff>, string]> = [
        [{ initial: -1 }, "initial"],
        [{ initial: NaN }, "initial"],
        [{ initial: Infinity }, "initial"],
        [{ max: 100 }, "max"],
        [{ max: Infinity }, "max"],
        [{ max: NaN }, "max"],
        [{ factor: 0.5 }, "factor"],
        [{ factor: 0 }, "factor"],
        [{ factor: NaN }, "factor"],
        [{ factor: Infinity }, "factor"],
        [{ jitter: -0.1 }, "jitter"],
        [{ jitter: 2 }, "jitter"],
        [{ jitter: NaN }, "jitter"],
        [{ maxAttempts: -1 }, "maxAttempts"],
        [{ maxAttempts: 1.5 }, "maxAttempts"],
        [{ maxAttempts: NaN }, "maxAttempts"],
        [{ retryOn: new Set([999]) }, "retryOn"],
        [{ retryOn: new Set([5000]) }, "retryOn"],
        [{ retryOn: new Set([1006, 1000.5]) }, "retryOn"],
        [{ retryOn: new Set([NaN]) }, "retryOn"]
      ]
      for (const [overrides, field] of cases) {
        const problem = Backoff.invalid(policy(overrides))
        assert.isString(problem, JSON.stringify(overrides))
        assert.isTrue(problem!.startsWith(`${field}:`), `${problem} names ${field}`)
      }
    })
  })
})
