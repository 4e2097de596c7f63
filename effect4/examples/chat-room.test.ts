import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Broadcast, type Presence, Testing } from "effect-websocket"
import { HttpRouter } from "effect/http"
import { TestClock } from "effect/testing"
import { ChatProtocol, ChatRoomRoutes, RoomMembers } from "./chat-room.js"

const join = (room: string, user?: string) =>
  Effect.gen(function*() {
    const app = yield* HttpRouter.toHttpEffect(ChatRoomRoutes)
    const client = yield* Testing.connectTo(app, `/rooms/${room}${user === undefined ? "" : `?user=${user}`}`)
    return Testing.typed(ChatProtocol, client)
  })
type Member = Effect.Success<ReturnType<typeof join>>
const welcome = (room: string, user: string) => ({ type: "welcome", room, user, server: process.pid }) as const

/** Who a presence frame names: each key with the user of each of its entries (refs left out). */
const users = (presences: Presence.Presences<{ readonly user: string }>) =>
  Object.fromEntries(Object.entries(presences).map(([key, entries]) => [key, entries.map((e) => e.meta.user)]))

/** The room's members when `member` arrived (its presence_state), and its own join right after. */
const arrives = (member: Member, room: string, user: string) =>
  Effect.gen(function*() {
    assert.deepStrictEqual(yield* member.receive, welcome(room, user))
    const state = yield* member.receive
    assert.strictEqual(state.type, "presence_state")
    if (state.type !== "presence_state") return {}
    assert.strictEqual(state.topic, `room:${room}`)
    const own = yield* member.receive
    assert.deepInclude(own, { type: "presence_diff", stream: state.stream, seq: state.seq + 1, leaves: {} })
    if (own.type === "presence_diff") assert.deepStrictEqual(users(own.joins), { [user]: [user] })
    return users(state.presences)
  })

/** The next frame is a diff that follows `seq`, with these joins and leaves. */
const diff = (
  member: Member,
  expected: { readonly joins?: Record<string, Array<string>>; readonly leaves?: Record<string, Array<string>> }
) =>
  Effect.gen(function*() {
    const frame = yield* member.receive
    assert.strictEqual(frame.type, "presence_diff")
    if (frame.type !== "presence_diff") return
    assert.deepStrictEqual(
      { joins: users(frame.joins), leaves: users(frame.leaves) },
      { joins: expected.joins ?? {}, leaves: expected.leaves ?? {} }
    )
  })

describe("chat rooms (in memory)", () => {
  it.effect("members see each other's messages, typing, and who is in the room; another room sees none", () =>
    Effect.gen(function*() {
      const alice = yield* join("lobby", "Alice")
      assert.deepStrictEqual(yield* arrives(alice, "lobby", "Alice"), {}, "an empty room")
      const carol = yield* join("kitchen", "Carol")
      assert.deepStrictEqual(yield* arrives(carol, "kitchen", "Carol"), {})
      const bob = yield* join("lobby", "Bob")
      // the newcomer learns who is here, and the others that it came, with nothing for a client to answer
      assert.deepStrictEqual(yield* arrives(bob, "lobby", "Bob"), { Alice: ["Alice"] })
      yield* diff(alice, { joins: { Bob: ["Bob"] } })

      // a second tab of Alice's: one member, two entries, whose leave leaves her in the room
      const aliceAgain = yield* join("lobby", "Alice")
      assert.deepStrictEqual(yield* arrives(aliceAgain, "lobby", "Alice"), { Alice: ["Alice"], Bob: ["Bob"] })
      yield* diff(alice, { joins: { Alice: ["Alice"] } })
      yield* diff(bob, { joins: { Alice: ["Alice"] } })
      const listed = yield* RoomMembers.list("room:lobby")
      assert.deepStrictEqual(Object.keys(listed).sort(), ["Alice", "Bob"])
      assert.strictEqual(listed.Alice.length, 2)
      yield* aliceAgain.client.close()
      yield* diff(alice, { leaves: { Alice: ["Alice"] } })
      yield* diff(bob, { leaves: { Alice: ["Alice"] } })
      assert.deepStrictEqual(users(yield* RoomMembers.list("room:lobby")), { Alice: ["Alice"], Bob: ["Bob"] })

      yield* bob.send({ type: "typing" })
      assert.deepStrictEqual(yield* alice.receive, { type: "typing", user: "Bob" })
      yield* bob.send({ type: "say", text: "hi all" })
      assert.deepStrictEqual(yield* bob.receive, { type: "said", user: "Bob", text: "hi all" }, "the sender too")
      assert.deepStrictEqual(yield* alice.receive, { type: "said", user: "Bob", text: "hi all" })

      yield* bob.client.close()
      yield* diff(alice, { leaves: { Bob: ["Bob"] } })
      yield* carol.client.expectNoFrame("50 millis")
      assert.strictEqual(yield* Broadcast.subscriberCount("room:lobby"), 1)
      assert.deepStrictEqual(users(yield* RoomMembers.list("room:lobby")), { Alice: ["Alice"] })

      // a page that missed a diff asks for the members again, and continues from the state's seq
      yield* alice.send({ type: "sync" })
      const again = yield* alice.receive
      assert.strictEqual(again.type, "presence_state")
      if (again.type === "presence_state") assert.deepStrictEqual(users(again.presences), { Alice: ["Alice"] })
    }).pipe(Effect.provide(Broadcast.layer())))

  it.effect("across two servers: a killed server's members leave the other's rooms within 1.5 ttl", () =>
    Effect.gen(function*() {
      // two servers sharing rooms and members, as on one Redis, on the test's clock
      const backplane = yield* Testing.backplane
      const a = yield* backplane.node({ ttl: 2_000 })
      const b = yield* backplane.node({ ttl: 2_000 })
      const on = (node: Testing.Node) => Effect.provideService(Broadcast.Broadcast, node.broadcast)

      const ann = yield* join("lobby", "Ann").pipe(on(a))
      assert.deepStrictEqual(yield* arrives(ann, "lobby", "Ann"), {})
      // a change takes a moment to cross, as through Redis: b lists Ann once it has heard of her
      yield* RoomMembers.list("room:lobby").pipe(
        Effect.tap(() => Effect.yieldNow),
        on(b),
        Effect.repeat({ until: (members) => "Ann" in members })
      )
      const ben = yield* join("lobby", "Ben").pipe(on(b))
      assert.deepStrictEqual(yield* arrives(ben, "lobby", "Ben"), { Ann: ["Ann"] })
      yield* diff(ann, { joins: { Ben: ["Ben"] } })

      yield* b.kill // as SIGKILL: b never says goodbye
      yield* TestClock.adjust("2999 millis")
      yield* diff(ann, { leaves: { Ben: ["Ben"] } })
      assert.deepStrictEqual(users(yield* RoomMembers.list("room:lobby").pipe(on(a))), { Ann: ["Ann"] })
      yield* ann.client.close(1000)
    }))

  it.effect("without ?user= a member is Anonymous; a message that breaks the protocol closes with 1007", () =>
    Effect.gen(function*() {
      const someone = yield* join("lobby")
      assert.deepStrictEqual(yield* arrives(someone, "lobby", "Anonymous"), {})
      yield* someone.client.sendText(JSON.stringify({ type: "say", text: "" }))
      assert.deepStrictEqual(yield* someone.client.closed, { code: 1007, reason: "invalid message" })
    }).pipe(Effect.provide(Broadcast.layer())))
})
