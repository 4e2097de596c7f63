import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Broadcast, Testing } from "effect-websocket"
import { HttpRouter } from "effect/http"
import { ChatProtocol, ChatRoomRoutes } from "./chat-room.js"

const join = (room: string, user?: string) =>
  Effect.gen(function*() {
    const app = yield* HttpRouter.toHttpEffect(ChatRoomRoutes)
    const client = yield* Testing.connectTo(app, `/rooms/${room}${user === undefined ? "" : `?user=${user}`}`)
    return Testing.typed(ChatProtocol, client)
  })
const welcome = (room: string, user: string) => ({ type: "welcome", room, user, server: process.pid }) as const

describe("chat rooms (in memory)", () => {
  it.effect("members see each other's messages, typing, and who joins, is here and leaves; another room sees none", () =>
    Effect.gen(function*() {
      const alice = yield* join("lobby", "Alice")
      assert.deepStrictEqual(yield* alice.receive, welcome("lobby", "Alice"))
      const carol = yield* join("kitchen", "Carol")
      assert.deepStrictEqual(yield* carol.receive, welcome("kitchen", "Carol"))
      const bob = yield* join("lobby", "Bob")
      assert.deepStrictEqual(yield* bob.receive, welcome("lobby", "Bob"))
      assert.deepStrictEqual(yield* alice.receive, { type: "joined", user: "Bob" })
      // Alice's client answers a join, so that Bob learns who was already here
      yield* alice.send({ type: "here" })
      assert.deepStrictEqual(yield* bob.receive, { type: "present", user: "Alice" })

      yield* bob.send({ type: "typing" })
      assert.deepStrictEqual(yield* alice.receive, { type: "typing", user: "Bob" })
      yield* bob.send({ type: "say", text: "hi all" })
      assert.deepStrictEqual(yield* bob.receive, { type: "said", user: "Bob", text: "hi all" }, "the sender too")
      assert.deepStrictEqual(yield* alice.receive, { type: "said", user: "Bob", text: "hi all" })

      yield* bob.client.close()
      assert.deepStrictEqual(yield* alice.receive, { type: "left", user: "Bob" })
      yield* carol.client.expectNoFrame("50 millis")
      assert.strictEqual(yield* Broadcast.subscriberCount("room:lobby"), 1)
    }).pipe(Effect.provide(Broadcast.layer())))

  it.effect("without ?user= a member is Anonymous; a message that breaks the protocol closes with 1007", () =>
    Effect.gen(function*() {
      const someone = yield* join("lobby")
      assert.deepStrictEqual(yield* someone.receive, welcome("lobby", "Anonymous"))
      yield* someone.client.sendText(JSON.stringify({ type: "say", text: "" }))
      assert.deepStrictEqual(yield* someone.client.closed, { code: 1007, reason: "invalid message" })
    }).pipe(Effect.provide(Broadcast.layer())))
})
