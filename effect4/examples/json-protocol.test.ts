import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Testing } from "effect-websocket"
import { Counter, counter } from "./json-protocol.js"

describe("a JSON protocol", () => {
  it.effect("adds, resets, and answers a bad message without closing", () =>
    Effect.gen(function*() {
      // a typed test client: sends values, receives decoded values
      const client = Testing.typed(Counter, yield* Testing.connectTo(counter, "/"))
      yield* client.send({ type: "add", amount: 5 })
      assert.deepStrictEqual(yield* client.receive, { type: "total", value: 5 })
      yield* client.send({ type: "add", amount: 7 })
      assert.deepStrictEqual(yield* client.receive, { type: "total", value: 12 })

      // 1,000 is out of range: the handler gets an Invalid message and answers
      yield* client.client.sendText(JSON.stringify({ type: "add", amount: 1000 }))
      const answer = yield* client.receive
      assert.strictEqual(answer.type, "error")

      yield* client.send({ type: "reset" })
      assert.deepStrictEqual(yield* client.receive, { type: "total", value: 0 })
    }))
})
