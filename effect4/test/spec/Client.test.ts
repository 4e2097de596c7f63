// The Effect 4 client beyond the smoke test: what its translation from Effect 3 could break (the
// heartbeat answered by the tap, timeouts on the TestClock, the order in which a close fails waiting
// requests, the buffer, the ended Queue behind `messages`, options that are not durations).
import { assert, describe, it } from "@effect/vitest"
import { Deferred, type Duration, Effect, Fiber, Result, Schema, Stream, SubscriptionRef } from "effect"
import { Action, Client, Connection, Protocol, Testing, Upgrade } from "effect-websocket"
import { TestClock } from "effect/testing"

const Rooms = Protocol.json({
  incoming: Schema.Struct({ type: Schema.Literal("say"), text: Schema.String }),
  outgoing: Schema.Struct({ type: Schema.Literal("said"), text: Schema.String }),
  requests: {
    join: { payload: Schema.Struct({ room: Schema.String }), success: Schema.Number }
  },
  serverRequests: {
    whoAreYou: { payload: Schema.Void, success: Schema.String }
  }
})

/**
 * Echoes what is said; "who" asks the client who it is (1 second to answer) and says the answer or
 * the error's reason; a `join` request is told to `joined` and never answered.
 */
const rooms = (joined: Deferred.Deferred<string>) =>
  Protocol.upgradeWebSocket(Rooms, {
    onInit: () => Effect.succeed(Upgrade.initial(null)),
    onMessage: (state, message, connection) =>
      Effect.gen(function*() {
        if (message._tag === "Decoded") {
          if (message.value.text === "who") {
            const answer = yield* Effect.result(
              Protocol.request(connection, "whoAreYou", undefined, { timeout: "1 second" })
            )
            const text = Result.isSuccess(answer)
              ? answer.success
              : answer.failure._tag === "RequestError"
              ? answer.failure.reason
              : answer.failure._tag
            yield* Protocol.send(connection, { type: "said", text })
          } else {
            yield* Protocol.send(connection, { type: "said", text: message.value.text })
          }
        } else if (message._tag === "Request") {
          yield* Deferred.succeed(joined, message.payload.room)
        }
        return Action.continueConnection(state)
      }).pipe(Effect.orDie),
    onClose: () => Effect.void
  }, { heartbeat: false })

/** A route that is not typed: it reads every frame and answers none, heartbeats included. */
const silent = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}, { heartbeat: false })

/** A route that is not typed: it sends back every text frame as it came. */
const mirror = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state, message, connection) =>
    message._tag === "TextMessage"
      ? Effect.as(Effect.orDie(Connection.sendText(connection, message.text)), Action.continueConnection(state))
      : Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}, { heartbeat: false })

const stateOf = <In, Out>(client: Client.Client<In, Out, any>) => SubscriptionRef.get(client.state)

/** The first state `predicate` accepts, the current one included. */
const awaitState = <In, Out>(client: Client.Client<In, Out, any>, predicate: (state: Client.State) => boolean) =>
  Effect.map(
    Stream.runHead(Stream.filter(SubscriptionRef.changes(client.state), predicate)),
    (state) => (state._tag === "Some" ? state.value : undefined)
  )

describe("Client", () => {
  describe("heartbeat", () => {
    it.effect("a typed route answers it from the tap, so the connection stays open", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(rooms(yield* Deferred.make<string>()))
        let connects = 0
        const client = yield* Client.make(Rooms, "ws://test/rooms", {
          webSocket: server.WebSocket,
          heartbeat: "1 second",
          onConnect: () => Effect.sync(() => void connects++)
        })
        yield* client.awaitOpen
        for (let i = 0; i < 5; i++) yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* stateOf(client), { _tag: "Open" })
        assert.strictEqual(connects, 1)
        assert.strictEqual(yield* server.connections, 1)
      }))

    it.effect("unanswered by the next one, the client closes with 4000 and reconnects", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(silent)
        const client = yield* Client.make(Rooms, "ws://test/silent", {
          webSocket: server.WebSocket,
          heartbeat: "1 second"
        })
        yield* client.awaitOpen
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* stateOf(client), { _tag: "Open" })
        yield* TestClock.adjust("1 second")
        const reconnecting = yield* awaitState(client, (state) => state._tag === "Reconnecting")
        assert.deepInclude(reconnecting, { _tag: "Reconnecting", attempt: 1, code: 4000, reason: "heartbeat timeout" })
        yield* TestClock.adjust("1 second")
        yield* client.awaitOpen
      }))
  })

  describe("request", () => {
    it.effect("fails with RequestError Timeout when no reply comes within its timeout", () =>
      Effect.gen(function*() {
        const joined = yield* Deferred.make<string>()
        const server = yield* Testing.webSocket(rooms(joined))
        const client = yield* Client.make(Rooms, "ws://test/rooms", { webSocket: server.WebSocket })
        yield* client.awaitOpen
        const waiting = yield* Effect.forkChild(client.request("join", { room: "lobby" }, { timeout: "2 seconds" }))
        assert.strictEqual(yield* Deferred.await(joined), "lobby")
        yield* TestClock.adjust("1 second")
        assert.isUndefined(waiting.pollUnsafe())
        yield* TestClock.adjust("1 second")
        const error = yield* Effect.flip(Fiber.join(waiting))
        assert.deepInclude(error, { _tag: "RequestError", reason: "Timeout", request: "join" })
      }))

    it.effect("waiting when the client closes: fails with ClientError Closed, and messages ends", () =>
      Effect.gen(function*() {
        const joined = yield* Deferred.make<string>()
        const server = yield* Testing.webSocket(rooms(joined))
        const client = yield* Client.make(Rooms, "ws://test/rooms", { webSocket: server.WebSocket })
        yield* client.awaitOpen
        const waiting = yield* Effect.forkChild(client.request("join", { room: "lobby" }))
        yield* Deferred.await(joined)
        yield* client.close(4100, "bye")
        const error = yield* Effect.flip(Fiber.join(waiting))
        assert.deepInclude(error, { _tag: "ClientError", reason: "Closed", code: 4100, detail: "bye" })
        assert.deepStrictEqual([...yield* Stream.runCollect(client.messages)], [])
        assert.deepStrictEqual(yield* stateOf(client), { _tag: "Closed", code: 4100, reason: "bye" })
        const send = yield* Effect.flip(client.send({ type: "say", text: "late" }))
        assert.deepInclude(send, { _tag: "ClientError", reason: "Closed" })
      }))

    it.effect("a server request nobody answers fails with RequestError Timeout on the server", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(rooms(yield* Deferred.make<string>()))
        // no onRequest: the client logs the request and leaves it unanswered
        const client = yield* Client.make(Rooms, "ws://test/rooms", { webSocket: server.WebSocket })
        yield* client.awaitOpen
        yield* client.send({ type: "say", text: "who" })
        const said = yield* Effect.forkChild(Stream.runHead(client.messages))
        yield* TestClock.adjust("1 second")
        const message = yield* Fiber.join(said)
        assert.deepStrictEqual(message._tag === "Some" ? message.value : undefined, { type: "said", text: "Timeout" })
      }))
  })

  describe("buffer", () => {
    it.effect("with the default 0, a send while disconnected fails with NotConnected", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(rooms(yield* Deferred.make<string>()))
        const client = yield* Client.make(Rooms, "ws://test/rooms", { webSocket: server.WebSocket })
        yield* client.awaitOpen
        yield* server.drop
        yield* awaitState(client, (state) => state._tag === "Reconnecting")
        const error = yield* Effect.flip(client.send({ type: "say", text: "lost" }))
        assert.deepInclude(error, { _tag: "ClientError", reason: "NotConnected" })
      }))

    it.effect("keeps `buffer` frames while disconnected and sends them in order on the next connection", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(rooms(yield* Deferred.make<string>()))
        const client = yield* Client.make(Rooms, "ws://test/rooms", { webSocket: server.WebSocket, buffer: 2 })
        yield* client.awaitOpen
        yield* server.drop
        yield* awaitState(client, (state) => state._tag === "Reconnecting")
        yield* client.send({ type: "say", text: "one" })
        yield* client.send({ type: "say", text: "two" })
        const full = yield* Effect.flip(client.send({ type: "say", text: "three" }))
        assert.deepInclude(full, { _tag: "ClientError", reason: "BufferFull" })
        yield* TestClock.adjust("1 second")
        yield* client.awaitOpen
        const echoed = yield* Stream.runCollect(Stream.take(client.messages, 2))
        assert.deepStrictEqual([...echoed].map((message) => message.text), ["one", "two"])
      }))
  })

  describe("reconnect", () => {
    it.effect("gives up after maxAttempts failed attempts: Closed with the last close, awaitOpen fails", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(rooms(yield* Deferred.make<string>()))
        yield* server.refuse(true)
        const client = yield* Client.make(Rooms, "ws://test/rooms", {
          webSocket: server.WebSocket,
          reconnect: { maxAttempts: 1 }
        })
        const reconnecting = yield* awaitState(client, (state) => state._tag === "Reconnecting")
        assert.deepInclude(reconnecting, { attempt: 1, code: 1006 })
        yield* TestClock.adjust("1 second")
        const error = yield* Effect.flip(client.awaitOpen)
        assert.deepInclude(error, { _tag: "ClientError", reason: "Closed", code: 1006 })
        assert.deepStrictEqual(yield* stateOf(client), { _tag: "Closed", code: 1006, reason: "" })
        assert.strictEqual(yield* server.connections, 0)
      }))
  })

  describe("messages", () => {
    it.effect("a consumer more than `capacity` behind: the client closes with 4001 and reconnects", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(rooms(yield* Deferred.make<string>()))
        const client = yield* Client.make(Rooms, "ws://test/rooms", { webSocket: server.WebSocket, capacity: 1 })
        yield* client.awaitOpen
        yield* client.send({ type: "say", text: "one" })
        yield* client.send({ type: "say", text: "two" })
        const reconnecting = yield* awaitState(client, (state) => state._tag === "Reconnecting")
        assert.deepInclude(reconnecting, { code: 4001, reason: "client buffer full" })
        yield* TestClock.adjust("1 second")
        yield* client.awaitOpen
        const first = yield* Stream.runHead(client.messages)
        assert.deepStrictEqual(first._tag === "Some" ? first.value : undefined, { type: "said", text: "one" })
      }))

    it.effect("one that does not decode is skipped, or with onInvalid: close ends the client with 4002", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(mirror)
        const skipping = yield* Client.make(Rooms, "ws://test/mirror", { webSocket: server.WebSocket })
        yield* skipping.awaitOpen
        // the mirror sends back `say`, which is not an outgoing message
        yield* skipping.send({ type: "say", text: "skipped" })
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* stateOf(skipping), { _tag: "Open" })
        const closing = yield* Client.make(Rooms, "ws://test/mirror", {
          webSocket: server.WebSocket,
          onInvalid: "close"
        })
        yield* closing.awaitOpen
        yield* closing.send({ type: "say", text: "refused" })
        const closed = yield* awaitState(closing, (state) => state._tag === "Closed")
        assert.deepStrictEqual(closed, { _tag: "Closed", code: 4002, reason: "invalid message" })
        assert.deepStrictEqual([...yield* Stream.runCollect(closing.messages)], [])
      }))
  })

  describe("make", () => {
    it.effect("fails with InvalidOptions for a URL that is not ws: and for a duration that is not one", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(silent)
        const url = yield* Effect.flip(Client.make(Rooms, "http://test/rooms", { webSocket: server.WebSocket }))
        assert.deepInclude(url, { _tag: "ClientError", reason: "InvalidOptions" })
        const heartbeat = yield* Effect.flip(
          Client.make(Rooms, "ws://test/rooms", {
            webSocket: server.WebSocket,
            heartbeat: "soon" as unknown as Duration.Input
          })
        )
        assert.deepInclude(heartbeat, { _tag: "ClientError", reason: "InvalidOptions" })
        const initial = yield* Effect.flip(
          Client.make(Rooms, "ws://test/rooms", {
            webSocket: server.WebSocket,
            reconnect: { initial: "soon" as unknown as Duration.Input }
          })
        )
        assert.deepInclude(initial, { _tag: "ClientError", reason: "InvalidOptions" })
        assert.strictEqual(yield* server.connections, 0)
      }))
  })
})
