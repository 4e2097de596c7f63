import { HttpRouter } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Broadcast, Testing } from "effect-websocket"
import { joinRoom } from "./chat-room.js"

const app = HttpRouter.empty.pipe(HttpRouter.get("/rooms/:room", joinRoom))
const text = (text: string) => ({ _tag: "Text", text }) as const
const welcome = (room: string, user: string) => text(`* you joined ${room} as ${user} (server process ${process.pid})`)

describe("chat rooms (in memory)", () => {
  it.scoped("members see each other's messages and who joins and leaves; another room sees none of it", () =>
    Effect.gen(function*() {
      const alice = yield* Testing.connectTo(app, "/rooms/lobby?user=Alice")
      assert.deepStrictEqual(yield* alice.receive, welcome("lobby", "Alice"))
      const carol = yield* Testing.connectTo(app, "/rooms/kitchen?user=Carol")
      assert.deepStrictEqual(yield* carol.receive, welcome("kitchen", "Carol"))
      const bob = yield* Testing.connectTo(app, "/rooms/lobby?user=Bob")
      assert.deepStrictEqual(yield* bob.receive, welcome("lobby", "Bob"))
      assert.deepStrictEqual(yield* alice.receive, text("* Bob joined"))

      yield* bob.sendText("hi all")
      assert.deepStrictEqual(yield* bob.receive, text("Bob: hi all"), "the sender sees the room's order too")
      assert.deepStrictEqual(yield* alice.receive, text("Bob: hi all"))

      yield* bob.close()
      assert.deepStrictEqual(yield* alice.receive, text("* Bob left"))
      yield* carol.expectNoFrame("50 millis")
      assert.strictEqual(yield* Broadcast.subscriberCount("room:lobby"), 1)
    }).pipe(Effect.provide(Broadcast.layer())))

  it.scoped("without ?user= a member is Anonymous", () =>
    Effect.gen(function*() {
      const someone = yield* Testing.connectTo(app, "/rooms/lobby")
      assert.deepStrictEqual(yield* someone.receive, welcome("lobby", "Anonymous"))
    }).pipe(Effect.provide(Broadcast.layer())))
})
