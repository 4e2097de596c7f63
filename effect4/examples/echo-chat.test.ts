import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Testing } from "effect-websocket"
import { HttpRouter } from "effect/http"
import { EchoChatRoutes } from "./echo-chat.js"

describe("echo chat", () => {
  it.effect("echoes with the user name from ?user=", () =>
    Effect.gen(function*() {
      const app = yield* HttpRouter.toHttpEffect(EchoChatRoutes)
      const client = yield* Testing.connectTo(app, "/chat?user=Ann")
      yield* client.sendText("hello")
      yield* client.sendText("again")
      const frames = yield* client.frames.pipe(Stream.take(2), Stream.runCollect)
      assert.deepStrictEqual([...frames], [{ _tag: "Text", text: "Ann: hello" }, { _tag: "Text", text: "Ann: again" }])
      yield* client.close(1000)
      assert.deepStrictEqual(yield* client.closeInfo, { code: 1000, reason: "", initiator: "peer" })
    }))

  it.effect("calls a user without a name Anonymous", () =>
    Effect.gen(function*() {
      const app = yield* HttpRouter.toHttpEffect(EchoChatRoutes)
      const client = yield* Testing.connectTo(app, "/chat")
      yield* client.sendText("hi")
      assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "Anonymous: hi" })
    }))
})
