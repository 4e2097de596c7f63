import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema, Stream, SubscriptionRef } from "effect"
import { Action, Client, Protocol, Testing, Upgrade } from "effect-websocket"
import { TestClock } from "effect/testing"

const Chat = Protocol.json({
  incoming: Schema.Struct({ type: Schema.Literal("say"), text: Schema.String }),
  outgoing: Schema.Struct({ type: Schema.Literal("said"), text: Schema.String }),
  requests: {
    join: {
      payload: Schema.Struct({ room: Schema.String }),
      success: Schema.Struct({ members: Schema.Array(Schema.String) }),
      failure: Schema.Struct({ refused: Schema.String })
    }
  },
  serverRequests: {
    whoAreYou: { payload: Schema.Void, success: Schema.String }
  }
})

const route = Protocol.upgradeWebSocket(Chat, {
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state, message, connection) =>
    Effect.gen(function*() {
      if (message._tag === "Decoded") {
        if (message.value.text === "who") {
          const name = yield* Protocol.request(connection, "whoAreYou", undefined)
          yield* Protocol.send(connection, { type: "said", text: `you are ${name}` })
        } else {
          yield* Protocol.send(connection, { type: "said", text: message.value.text })
        }
      } else if (message._tag === "Request" && message.name === "join") {
        const room = message.payload.room
        yield* Protocol.reply(
          connection,
          message,
          room === "secret" ? Effect.fail({ refused: room }) : Effect.succeed({ members: [room, "ann"] })
        )
      }
      return Action.continueConnection(state)
    }).pipe(Effect.orDie),
  onClose: () => Effect.void
})

describe("Client (smoke)", () => {
  it.effect("round trip, requests both ways, reconnect", () =>
    Effect.gen(function*() {
      const server = yield* Testing.webSocket(route)
      let connects = 0
      const client = yield* Client.make(Chat, "ws://test/chat", {
        webSocket: server.WebSocket,
        onConnect: () => Effect.sync(() => void connects++),
        onRequest: { whoAreYou: () => Effect.succeed("bob") }
      })
      yield* client.awaitOpen
      yield* client.send({ type: "say", text: "hi" })
      const joined = yield* client.request("join", { room: "lobby" })
      assert.deepStrictEqual(joined, { members: ["lobby", "ann"] })
      const refused = yield* Effect.result(client.request("join", { room: "secret" }))
      assert.deepStrictEqual(Result.isFailure(refused) ? refused.failure : undefined, { refused: "secret" })
      yield* client.send({ type: "say", text: "who" })
      const got = yield* Stream.runCollect(Stream.take(client.messages, 2))
      assert.deepStrictEqual([...got].map((m) => m.text), ["hi", "you are bob"])
      yield* server.drop
      const state = yield* Stream.runHead(
        Stream.filter(SubscriptionRef.changes(client.state), (s) => s._tag !== "Open")
      )
      assert.strictEqual(state._tag === "Some" ? state.value._tag : "", "Reconnecting")
      yield* TestClock.adjust("1 second")
      yield* client.awaitOpen
      assert.strictEqual(connects, 2)
      yield* client.send({ type: "say", text: "again" })
      const again = yield* Stream.runHead(client.messages)
      assert.strictEqual(again._tag === "Some" ? again.value.text : "", "again")
      yield* client.close()
      assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Closed", code: 1000, reason: "" })
    }))
})
