import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream, SubscriptionRef } from "effect"
import { Client, Testing } from "effect-websocket"
import { TestClock } from "effect/testing"
import { Rooms } from "./rooms-protocol.js"
import { rooms } from "./rooms-server.js"

describe("the rooms client in memory (Testing.webSocket)", () => {
  it.effect("reconnects after a lost connection, on the test's clock, and joins again", () =>
    Effect.gen(function*() {
      const server = yield* Testing.webSocket(rooms) // no port: the route runs through the production loop
      let joins = 0
      const client = yield* Client.make(Rooms, "ws://test/rooms", {
        webSocket: server.WebSocket,
        onConnect: (client) =>
          client.request("join", { room: "lobby" }).pipe(Effect.tap(() => Effect.sync(() => joins++)), Effect.ignore)
      })
      yield* client.awaitOpen
      yield* server.drop // the connection is lost (1006): the client waits 250-500 ms, then reconnects
      const waiting = yield* Stream.runHead(
        Stream.filter(SubscriptionRef.changes(client.state), (s) => s._tag === "Reconnecting")
      )
      assert.strictEqual(waiting._tag === "Some" && waiting.value._tag === "Reconnecting" && waiting.value.code, 1006)
      yield* TestClock.adjust("500 millis")
      yield* client.awaitOpen
      assert.strictEqual(joins, 2)
      yield* client.send({ type: "say", text: "back" })
      const said = yield* Stream.runHead(client.messages)
      assert.deepStrictEqual(said._tag === "Some" && said.value, { type: "said", room: "lobby", text: "back" })
    }))
})
