import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { Action } from "effect-websocket"

describe("Action", () => {
  describe("continueConnection", () => {
    it("carries the new state", () => {
      const action = Action.continueConnection({ n: 1 })
      assert.strictEqual(action._tag, "Continue")
      assert.deepStrictEqual(action._tag === "Continue" && action.state, { n: 1 })
      assert.isTrue(Action.isAction(action))
    })
  })

  describe("continueConnectionWithSelector", () => {
    it("carries the new state and the stream", () => {
      const stream = Stream.make(1, 2)
      const action = Action.continueConnectionWithSelector("s", stream)
      assert.strictEqual(action._tag, "ContinueWithSelector")
      if (action._tag === "ContinueWithSelector") {
        assert.strictEqual(action.state, "s")
        assert.strictEqual(action.selector, stream)
      }
    })
  })

  describe("stopConnection", () => {
    it("closes normally with 1000 and no reason", () => {
      assert.deepInclude(Action.stopConnection(), { _tag: "Stop", code: 1000, reason: "" })
    })
  })

  describe("stopConnectionWith", () => {
    it.effect("accepts every code an endpoint may send", () =>
      Effect.gen(function*() {
        for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1011, 1014, 3000, 3999, 4000, 4999]) {
          const action = yield* Action.stopConnectionWith(code, "why")
          assert.deepInclude(action, { _tag: "Stop", code, reason: "why" })
        }
      }))

    it.effect("fails with CloseError InvalidCode for reserved, unassigned or malformed codes", () =>
      Effect.gen(function*() {
        for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 1000.5, Number.NaN, -1]) {
          const error = yield* Effect.flip(Action.stopConnectionWith(code))
          assert.strictEqual(error._tag, "CloseError")
          assert.strictEqual(error.reason, "InvalidCode")
          assert.isTrue(Object.is(error.code, code))
          assert.include(error.message, String(code))
        }
      }))

    it.effect("counts the reason in UTF-8 bytes: 123 fit, 124 do not", () =>
      Effect.gen(function*() {
        const euro = "€" // 3 bytes of UTF-8
        const emoji = "😀" // 4 bytes, two UTF-16 units
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(Action.stopConnectionWith(4000, euro.repeat(41)))))
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(Action.stopConnectionWith(4000, "a".repeat(123)))))
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(Action.stopConnectionWith(4000, emoji.repeat(30) + "abc"))))
        for (const reason of ["a".repeat(124), euro.repeat(41) + "a", emoji.repeat(31), "é".repeat(62)]) {
          const error = yield* Effect.flip(Action.stopConnectionWith(4000, reason))
          assert.strictEqual(error.reason, "ReasonTooLong")
          assert.strictEqual(error.closeReason, reason)
          assert.include(error.message, "123")
        }
      }))

    it("never throws, even for nonsense", () => {
      assert.doesNotThrow(() => Action.stopConnectionWith(Number.POSITIVE_INFINITY, "x".repeat(10_000)))
    })
  })
})
