import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Testing } from "effect-websocket"
import { TestClock } from "effect/testing"
import { ChatStore, room } from "./room.js"

// A test ChatStore: fixed history, appends recorded in an array the test reads.
const testStore = (appended: Array<string>) =>
  Layer.succeed(ChatStore, {
    append: (line) => Effect.sync(() => void appended.push(line)),
    recent: Effect.succeed(["alice: hi", "bob: hello"])
  })

describe("room", () => {
  it.effect("sends the history, stores messages, and a digest every minute of TestClock", () =>
    Effect.gen(function*() {
      const appended: Array<string> = []
      const client = yield* Testing.connectTo(room, "/room").pipe(Effect.provide(testStore(appended)))

      assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "history: alice: hi" })
      assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "history: bob: hello" })

      yield* client.sendText("first")
      yield* client.sendText("second")
      assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "stored #1" })
      assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "stored #2" })
      assert.deepStrictEqual(appended, ["first", "second"])

      // no real minute passes: the test clock drives the selector stream
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "digest: 2 messages so far" })

      yield* client.close(1000, "bye")
      assert.deepStrictEqual(yield* client.closeInfo, { code: 1000, reason: "bye", initiator: "peer" })
    }))
})
