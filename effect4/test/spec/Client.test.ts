// The typed client against routes in memory (Testing.webSocket), with every wait (reconnection,
// heartbeat, request timeout) on the TestClock. First what the translation from Effect 3 could break
// (the heartbeat answered by the tap, the order in which a close fails waiting requests, the ended
// Queue behind `messages`, options that are not durations); then every behaviour Client.ts documents,
// ported from the Effect 3 suite (test/spec/Client.test.ts at the root).
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import {
  Deferred,
  Duration,
  Effect,
  Fiber,
  Option,
  Queue,
  Result,
  Schema,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import { Action, Client, Connection, Protocol, Testing, Upgrade } from "effect-websocket"
import { TestClock } from "effect/testing"
import { eventually, sleeperIn } from "../support/clock.js"
import { type LogLine, recordLogs, warnings } from "../support/logs.js"

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

// ---------------------------------------------------------------------------------------------------
// Every behaviour Client.ts documents, ported from the Effect 3 suite: a chat protocol with requests
// both ways, a server that records what it receives, and a `WebSocket` spy that sees the wire.

const Say = Schema.Struct({ type: Schema.Literal("say"), text: Schema.String.check(Schema.isMaxLength(20)) })
const Count = Schema.Struct({ type: Schema.Literal("count"), n: Schema.NumberFromString })
const Said = Schema.Struct({ type: Schema.Literal("said"), text: Schema.String })
const Chat = Protocol.json({
  incoming: Schema.Union([Say, Count]),
  outgoing: Said,
  requests: {
    join: {
      payload: Schema.Struct({ room: Schema.String }),
      success: Schema.Struct({ members: Schema.Array(Schema.String) }),
      failure: Schema.Struct({ refused: Schema.String })
    },
    hold: { payload: Schema.Number, success: Schema.String },
    profile: { payload: Schema.Void, success: Schema.Record(Schema.String, Schema.Unknown) }
  },
  serverRequests: {
    whoAreYou: { payload: Schema.Void, success: Schema.String },
    setProfile: { payload: Schema.Record(Schema.String, Schema.Unknown), success: Schema.Boolean }
  }
})
type In = Protocol.Incoming<typeof Chat>
type Out = Protocol.Outgoing<typeof Chat>
type Req = Protocol.ClientRequests<typeof Chat>
type ChatClient = Client.Client<In, Out, Req>
type ChatConnection = Protocol.Connection<Out, Protocol.ServerRequests<typeof Chat>>
type State = Client.State
type Reconnecting = Extract<State, { readonly _tag: "Reconnecting" }>

const say = (text: string): In => ({ type: "say", text })
const said = (text: string): Out => ({ type: "said", text })
const url = "ws://test/chat"

/** A `hold` request the server keeps for the test to answer, with `Protocol.reply`, when it chooses. */
interface Held {
  readonly connection: ChatConnection
  readonly request: Protocol.Request<"hold", number, string, never>
}

/**
 * The server of these tests: records what it receives, in order, as text (`say` as its text,
 * `count:n`, a request as `name:payload`), echoes `say`, answers `join` (refusing "secret") and
 * holds `hold` for the test. A few texts are commands: "garbage" (a frame that does not decode, then
 * "after garbage"), "stop" (closes 1008 "policy"), "again" (closes 4100 "again"), "burst:n" (n
 * messages "0", "1"...), "who" (asks the client `whoAreYou` and says what it answered).
 */
const chatServer = Effect.gen(function*() {
  const received = yield* Queue.unbounded<string>()
  const held = yield* Queue.unbounded<Held>()
  const closes = yield* Queue.unbounded<Connection.CloseInfo>()
  const route = Protocol.upgradeWebSocket(Chat, {
    onInit: () => Effect.succeed(Upgrade.initial(null)),
    onMessage: (state, message, connection) =>
      Effect.gen(function*() {
        const next = Action.continueConnection(state)
        if (message._tag === "Request") {
          yield* Queue.offer(received, `${message.name}:${JSON.stringify(message.payload)}`)
          if (message.name === "join") {
            const room = message.payload.room
            yield* Protocol.reply(
              connection,
              message,
              room === "secret" ? Effect.fail({ refused: room }) : Effect.succeed({ members: [room, "ann"] })
            )
          } else if (message.name === "hold") {
            yield* Queue.offer(held, { connection, request: message })
          } else {
            yield* Protocol.reply(connection, message, Effect.succeed({ name: "chat" }))
          }
          return next
        }
        if (message._tag !== "Decoded") return next
        const value = message.value
        if (value.type === "count") {
          yield* Queue.offer(received, `count:${value.n}`)
          yield* Protocol.send(connection, said(String(value.n + 1)))
          return next
        }
        const text = value.text
        yield* Queue.offer(received, text)
        if (text === "garbage") {
          yield* Connection.sendText(connection, "not json")
          yield* Protocol.send(connection, said("after garbage"))
        } else if (text === "stop") {
          return yield* Action.stopConnectionWith(1008, "policy")
        } else if (text === "again") {
          return yield* Action.stopConnectionWith(4100, "again")
        } else if (text.startsWith("burst:")) {
          for (let i = 0; i < Number(text.slice(6)); i++) yield* Protocol.send(connection, said(String(i)))
        } else if (text === "who") {
          const answer = yield* Effect.result(Protocol.request(connection, "whoAreYou", undefined))
          yield* Protocol.send(
            connection,
            said(Result.isSuccess(answer) ? `you are ${answer.success}` : `no answer: ${answer.failure._tag}`)
          )
        } else {
          yield* Protocol.send(connection, said(text))
        }
        return next
      }).pipe(Effect.orDie),
    onClose: (_state, info) => Queue.offer(closes, info)
  }, { heartbeat: false, idleTimeout: false })
  return { route, received, held, closes }
})

/** A route that is not typed: it records each text it receives and answers nothing. */
const silentServer = Effect.gen(function*() {
  const texts = yield* Queue.unbounded<string>()
  const closes = yield* Queue.unbounded<Connection.CloseInfo>()
  const route = Upgrade.upgradeWebSocket({
    onInit: () => Effect.succeed(Upgrade.initial(null)),
    onMessage: (state: null, message) =>
      Effect.as(
        message._tag === "TextMessage" ? Queue.offer(texts, message.text) : Effect.void,
        Action.continueConnection(state)
      ),
    onClose: (_state, info) => Queue.offer(closes, info)
  }, { heartbeat: false, idleTimeout: false })
  return { route, texts, closes }
})

/**
 * A route that is not typed and answers each request by name with the JSON text `answers` gives for
 * it, whatever it is; `hello` is sent first, on every connection.
 */
const rawServer = (answers: Readonly<Record<string, string>>, hello?: string) =>
  Upgrade.upgradeWebSocket({
    onInit: (connection) =>
      Effect.as(
        hello === undefined ? Effect.void : Effect.orDie(Connection.sendText(connection, hello)),
        Upgrade.initial(null)
      ),
    onMessage: (state: null, message, connection) =>
      Effect.gen(function*() {
        if (message._tag === "TextMessage" && message.text.startsWith(`{"@request"`)) {
          const request = JSON.parse(message.text) as { readonly "@request": string; readonly "@ref": number }
          const answer = answers[request["@request"]]
          if (answer !== undefined) {
            yield* Connection.sendText(connection, `{"@reply":${request["@ref"]},"ok":${answer}}`)
          }
        }
        return Action.continueConnection(state)
      }).pipe(Effect.orDie),
    onClose: () => Effect.void
  }, { heartbeat: false })

/** What crossed the wire: the text frames a client sent and received, and the sockets it made. */
interface Wire {
  readonly sent: Array<string>
  readonly received: Array<string>
  sockets: number
}

/** Wraps a `WebSocket` class so that a test sees the wire; the client cannot tell the difference. */
const spy = (
  Inner: Client.WebSocketConstructor
): { readonly WebSocket: Client.WebSocketConstructor; readonly wire: Wire } => {
  const wire: Wire = { sent: [], received: [], sockets: 0 }
  class Spy implements Client.WebSocketLike {
    onopen: ((event: unknown) => void) | null = null
    onmessage: ((event: { readonly data: unknown }) => void) | null = null
    onclose: ((event: unknown) => void) | null = null
    onerror: ((event: unknown) => void) | null = null
    private readonly inner: Client.WebSocketLike
    constructor(url: string, protocols?: string | Array<string>) {
      wire.sockets++
      const inner = protocols === undefined ? new Inner(url) : new Inner(url, protocols)
      inner.onopen = (event) => this.onopen?.(event)
      inner.onmessage = (event: { readonly data: unknown }) => {
        if (typeof event.data === "string") wire.received.push(event.data)
        this.onmessage?.(event)
      }
      inner.onclose = (event) => this.onclose?.(event)
      inner.onerror = (event) => this.onerror?.(event)
      this.inner = inner
    }
    get readyState() {
      return this.inner.readyState
    }
    get binaryType() {
      return this.inner.binaryType
    }
    set binaryType(value: string) {
      this.inner.binaryType = value
    }
    send(data: string | Uint8Array): void {
      if (typeof data === "string") wire.sent.push(data)
      this.inner.send(data)
    }
    close(code?: number, reason?: string): void {
      this.inner.close(code, reason)
    }
  }
  return { WebSocket: Spy, wire }
}

/** The first state, now or later, that `predicate` picks. */
const stateWhere = <S extends State>(client: ChatClient, predicate: (state: State) => state is S): Effect.Effect<S> =>
  Effect.map(Stream.runHead(Stream.filter(SubscriptionRef.changes(client.state), predicate)), Option.getOrThrow)

const isReconnecting = (state: State): state is Reconnecting => state._tag === "Reconnecting"
const isClosed = (state: State): state is Extract<State, { readonly _tag: "Closed" }> => state._tag === "Closed"

/** Waits for the client to be reconnecting and its wait to be on the clock: `TestClock.adjust(delay)` ends it. */
const reconnecting = (client: ChatClient) =>
  Effect.tap(stateWhere(client, isReconnecting), (state) => sleeperIn(state.delay))

/** Waits out the client's reconnection delay and until it is open again. */
const reconnected = (client: ChatClient) =>
  Effect.gen(function*() {
    const state = yield* reconnecting(client)
    yield* TestClock.adjust(state.delay)
    yield* client.awaitOpen
    return state
  })

const millis = (state: Reconnecting) => Duration.toMillis(state.delay)

/** A chat server in memory and a client connected to it, seen through `spy`. */
const connected = (options: Client.Options<In, Out, Req, Protocol.ServerRequests<typeof Chat>, never> = {}) =>
  Effect.gen(function*() {
    const chat = yield* chatServer
    const server = yield* Testing.webSocket(chat.route)
    const { WebSocket, wire } = spy(server.WebSocket)
    const client = yield* Client.make(Chat, url, { heartbeat: false, ...options, webSocket: WebSocket })
    return { ...chat, server, wire, client }
  })

const take = (client: ChatClient, n: number) =>
  Effect.map(Stream.runCollect(Stream.take(client.messages, n)), (chunk) => [...chunk].map((m) => m.text))

/** The `ClientError` that `self` fails with. */
const clientError = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(self), (error) => {
    assert.instanceOf(error, Client.ClientError)
    return error as Client.ClientError
  })

/** The `RequestError` that `self` fails with. */
const requestError = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(self), (error) => {
    assert.instanceOf(error, Client.RequestError)
    return error as Client.RequestError
  })

describe("Client in memory", () => {
  describe("messages", () => {
    it.effect("are the server's messages, decoded, in order", () =>
      Effect.gen(function*() {
        const { client } = yield* connected()
        yield* client.awaitOpen
        for (const text of ["one", "two", "three", "four", "five"]) yield* client.send(say(text))
        assert.deepStrictEqual(yield* take(client, 5), ["one", "two", "three", "four", "five"])
      }))

    it.effect("a binary protocol's messages go both ways as bytes", () =>
      Effect.gen(function*() {
        const Bytes = Protocol.binary({ incoming: Schema.Uint8Array, outgoing: Schema.Uint8Array })
        const route = Protocol.upgradeWebSocket(Bytes, {
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: (state, message, connection) =>
            Effect.as(
              message._tag === "Decoded"
                ? Effect.orDie(Protocol.send(connection, message.value.map((b) => b + 1)))
                : Effect.void,
              Action.continueConnection(state)
            ),
          onClose: () => Effect.void
        }, { heartbeat: false })
        const server = yield* Testing.webSocket(route)
        const client = yield* Client.make(Bytes, url, { webSocket: server.WebSocket, heartbeat: false })
        yield* client.awaitOpen
        yield* client.send(new Uint8Array([1, 2, 3]))
        const got = yield* Stream.runHead(client.messages)
        assert.deepStrictEqual(Option.map(got, (bytes) => [...bytes]), Option.some([2, 3, 4]))
      }))

    it.effect("a message that does not decode is skipped and logged", () => {
      const lines: Array<LogLine> = []
      return Effect.gen(function*() {
        const { client, wire } = yield* connected()
        yield* client.awaitOpen
        yield* client.send(say("garbage"))
        assert.deepStrictEqual(yield* take(client, 1), ["after garbage"])
        assert.include(wire.received, "not json", "the frame did come")
        assert.isTrue(
          warnings(lines).some((line) => line.includes("does not decode")),
          `a warning says so: ${warnings(lines).join("; ")}`
        )
        assert.strictEqual((yield* SubscriptionRef.get(client.state))._tag, "Open")
      }).pipe(Effect.provide(recordLogs(lines)))
    })

    it.effect("onInvalid close: closes with 4002, which is not retried", () =>
      Effect.gen(function*() {
        const { client, closes, wire } = yield* connected({ onInvalid: "close" })
        yield* client.awaitOpen
        yield* client.send(say("garbage"))
        const closed = yield* stateWhere(client, isClosed)
        assert.deepStrictEqual(closed, { _tag: "Closed", code: 4002, reason: "invalid message" })
        assert.strictEqual((yield* Queue.take(closes)).code, 4002)
        assert.deepStrictEqual(yield* take(client, 10), [], "messages ends, without the message after")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(wire.sockets, 1)
      }))

    it.effect("capacity: a consumer that falls behind makes the client drop (4001) and reconnect", () =>
      Effect.gen(function*() {
        const { client, closes, wire } = yield* connected({ capacity: 2 })
        yield* client.awaitOpen
        yield* client.send(say("burst:3"))
        const state = yield* reconnecting(client)
        assert.strictEqual(state.code, 4001)
        assert.strictEqual(state.reason, "client buffer full")
        assert.strictEqual((yield* Queue.take(closes)).code, 4001)
        assert.deepStrictEqual(yield* take(client, 2), ["0", "1"], "what it held is still there")
        yield* TestClock.adjust(state.delay)
        yield* client.awaitOpen
        assert.strictEqual(wire.sockets, 2)
        yield* client.send(say("back"))
        assert.deepStrictEqual(yield* take(client, 1), ["back"])
      }))
  })

  describe("send", () => {
    it.effect("encodes with the protocol's incoming schema", () =>
      Effect.gen(function*() {
        const { client, received, wire } = yield* connected()
        yield* client.awaitOpen
        yield* client.send({ type: "count", n: 41 })
        assert.deepStrictEqual(wire.sent, [`{"type":"count","n":"41"}`])
        assert.strictEqual(yield* Queue.take(received), "count:41")
        assert.deepStrictEqual(yield* take(client, 1), ["42"])
      }))

    it.effect("fails with EncodeError for a value the schema refuses, and sends nothing", () =>
      Effect.gen(function*() {
        const { client, received, wire } = yield* connected()
        yield* client.awaitOpen
        const error = yield* Effect.flip(client.send(say("x".repeat(21))))
        assert.strictEqual(error._tag, "EncodeError")
        assert.deepStrictEqual(wire.sent, [])
        yield* client.send(say("fine"))
        assert.strictEqual(yield* Queue.take(received), "fine")
      }))

    it.effect("buffer 0: fails with NotConnected until a connection is open", () =>
      Effect.gen(function*() {
        const chat = yield* chatServer
        const server = yield* Testing.webSocket(chat.route)
        yield* server.refuse(true)
        const client = yield* Client.make(Chat, url, { webSocket: server.WebSocket, heartbeat: false })
        assert.strictEqual((yield* clientError(client.send(say("early")))).reason, "NotConnected", "connecting")
        yield* reconnecting(client)
        assert.strictEqual((yield* clientError(client.send(say("early")))).reason, "NotConnected", "reconnecting")
        yield* server.refuse(false)
        yield* TestClock.adjust("1 second")
        yield* client.awaitOpen
        yield* client.send(say("now"))
        assert.strictEqual(yield* Queue.take(chat.received), "now", "nothing was kept")
      }))

    it.effect("buffer n: keeps n frames while disconnected, sent in order once connected; BufferFull beyond", () =>
      Effect.gen(function*() {
        const chat = yield* chatServer
        const server = yield* Testing.webSocket(chat.route)
        yield* server.refuse(true)
        const client = yield* Client.make(Chat, url, { webSocket: server.WebSocket, heartbeat: false, buffer: 2 })
        yield* reconnecting(client)
        yield* client.send(say("a"))
        yield* client.send(say("b"))
        assert.strictEqual((yield* clientError(client.send(say("c")))).reason, "BufferFull")
        yield* server.refuse(false)
        yield* reconnected(client)
        yield* client.send(say("d"))
        assert.deepStrictEqual(yield* take(client, 3), ["a", "b", "d"])
        assert.deepStrictEqual(
          yield* Effect.map(Queue.clear(chat.received), (chunk) => [...chunk]),
          ["a", "b", "d"]
        )
      }))

    it.effect("fails with Closed once the client is closed", () =>
      Effect.gen(function*() {
        const { client } = yield* connected({ buffer: 10 })
        yield* client.awaitOpen
        yield* client.close()
        const error = yield* clientError(client.send(say("late")))
        assert.strictEqual(error.reason, "Closed")
        assert.strictEqual(error.code, 1000)
      }))
  })

  describe("reconnect", () => {
    it.effect("a server that never answers the upgrade: given up after connectTimeout as 1006 \"connect timeout\", and retried", () =>
      Effect.gen(function*() {
        // a socket whose handshake never ends: it neither opens nor closes until told to
        const sockets: Array<{ closed: number | undefined }> = []
        class Hanging {
          readyState = 0
          binaryType = "blob"
          onopen = null
          onmessage = null
          onclose = null
          onerror = null
          readonly record: { closed: number | undefined } = { closed: undefined }
          constructor() {
            sockets.push(this.record)
          }
          send() {}
          close(code?: number) {
            this.record.closed = code
          }
        }
        const client = yield* Client.make(Chat, url, { webSocket: Hanging, connectTimeout: "3 seconds" })
        yield* TestClock.adjust("2999 millis")
        assert.strictEqual((yield* SubscriptionRef.get(client.state))._tag, "Connecting")
        yield* TestClock.adjust("1 millis")
        const waiting = yield* Stream.runHead(
          Stream.filter(SubscriptionRef.changes(client.state), (s) => s._tag === "Reconnecting")
        )
        assert.deepInclude(Option.getOrThrow(waiting), { attempt: 1, code: 1006, reason: "connect timeout" })
        // the hanging socket was closed, not left to finish its handshake later
        assert.strictEqual(sockets[0].closed, 1006)
        yield* TestClock.adjust("500 millis")
        assert.strictEqual(sockets.length, 2, "tried again")
      }))

    it.effect("after a lost connection (1006): waits between half and all of 0.5 s, doubling up to 5 s", () =>
      Effect.gen(function*() {
        const { client, server, wire } = yield* connected()
        yield* client.awaitOpen
        yield* server.refuse(true)
        yield* server.drop
        const shorter: Array<boolean> = []
        for (let attempt = 1; attempt <= 7; attempt++) {
          const state = yield* reconnecting(client)
          const ceiling = Math.min(5000, 500 * 2 ** (attempt - 1))
          shorter.push(millis(state) < ceiling)
          assert.strictEqual(state.attempt, attempt)
          assert.strictEqual(state.code, 1006)
          assert.isAtLeast(millis(state), ceiling / 2, `attempt ${attempt}`)
          assert.isAtMost(millis(state), ceiling, `attempt ${attempt}`)
          if (attempt === 7) yield* server.refuse(false)
          yield* TestClock.adjust(state.delay)
        }
        yield* client.awaitOpen
        assert.strictEqual(wire.sockets, 8)
        assert.include(shorter, true, "the waits are drawn, not all whole")
      }))

    it.effect("jitter 0: waits exactly 0.5, 1, 2, 4, 5 and 5 s", () =>
      Effect.gen(function*() {
        const { client, server } = yield* connected({ reconnect: { jitter: 0 } })
        yield* client.awaitOpen
        yield* server.refuse(true)
        yield* server.drop
        const waits: Array<number> = []
        for (let attempt = 1; attempt <= 6; attempt++) {
          const state = yield* reconnecting(client)
          waits.push(millis(state))
          // a moment short of the wait does not reconnect
          yield* TestClock.adjust(Duration.subtract(state.delay, Duration.millis(1)))
          assert.strictEqual((yield* SubscriptionRef.get(client.state))._tag, "Reconnecting")
          yield* TestClock.adjust(Duration.millis(1))
        }
        assert.deepStrictEqual(waits, [500, 1000, 2000, 4000, 5000, 5000])
      }))

    it.effect("the count of attempts restarts once a connection opens", () =>
      Effect.gen(function*() {
        const { client, server } = yield* connected({ reconnect: { jitter: 0 } })
        yield* client.awaitOpen
        yield* server.refuse(true)
        yield* server.drop
        for (const wait of [500, 1000, 2000]) {
          const state = yield* reconnecting(client)
          assert.strictEqual(millis(state), wait)
          if (wait === 2000) yield* server.refuse(false)
          yield* TestClock.adjust(state.delay)
        }
        yield* client.awaitOpen
        yield* server.drop
        const state = yield* reconnecting(client)
        assert.strictEqual(state.attempt, 1)
        assert.strictEqual(millis(state), 500)
      }))

    it.effect("maxAttempts: gives up after that many failed attempts in a row", () =>
      Effect.gen(function*() {
        const { client, server, wire } = yield* connected({ reconnect: { maxAttempts: 2 } })
        yield* client.awaitOpen
        yield* server.refuse(true)
        yield* server.drop
        for (let attempt = 1; attempt <= 2; attempt++) {
          const state = yield* reconnecting(client)
          assert.strictEqual(state.attempt, attempt)
          yield* TestClock.adjust(state.delay)
        }
        assert.deepStrictEqual(yield* stateWhere(client, isClosed), { _tag: "Closed", code: 1006, reason: "" })
        const error = yield* clientError(client.awaitOpen)
        assert.strictEqual(error.reason, "Closed")
        assert.strictEqual(error.code, 1006)
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(wire.sockets, 3)
      }))

    it.effect("reconnect: false: a lost connection closes the client for good", () =>
      Effect.gen(function*() {
        const { client, server, wire } = yield* connected({ reconnect: false })
        yield* client.awaitOpen
        yield* server.drop
        assert.deepStrictEqual(yield* stateWhere(client, isClosed), { _tag: "Closed", code: 1006, reason: "" })
        assert.deepStrictEqual(yield* take(client, 1), [])
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(wire.sockets, 1)
      }))

    it.effect("a close the server decides (1008) ends the client: Closed, messages ends, sends fail", () =>
      Effect.gen(function*() {
        const { client, wire } = yield* connected({ buffer: 10 })
        yield* client.awaitOpen
        yield* client.send(say("first"))
        yield* client.send(say("stop"))
        assert.deepStrictEqual(yield* stateWhere(client, isClosed), { _tag: "Closed", code: 1008, reason: "policy" })
        assert.deepStrictEqual(yield* Stream.runCollect(client.messages).pipe(Effect.map((c) => [...c])), [
          said("first")
        ])
        const error = yield* clientError(client.send(say("after")))
        assert.deepStrictEqual([error.reason, error.code, error.detail], ["Closed", 1008, "policy"])
        assert.strictEqual((yield* clientError(client.request("join", { room: "a" }))).reason, "Closed")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(wire.sockets, 1)
      }))

    it.effect("a refusal from onInit (Upgrade.refuse) ends the client with its code", () =>
      Effect.gen(function*() {
        const route = Protocol.upgradeWebSocket(Chat, {
          onInit: () => Upgrade.refuse(4003, "room full"),
          onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
          onClose: () => Effect.void
        }, { heartbeat: false })
        const server = yield* Testing.webSocket(route)
        const { WebSocket, wire } = spy(server.WebSocket)
        const client = yield* Client.make(Chat, url, { webSocket: WebSocket, heartbeat: false })
        assert.deepStrictEqual(yield* stateWhere(client, isClosed), { _tag: "Closed", code: 4003, reason: "room full" })
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(wire.sockets, 1)
      }))

    it.effect("retryOn: reconnects after the codes it lists, and only those", () =>
      Effect.gen(function*() {
        const { client, server, wire } = yield* connected({ reconnect: { retryOn: [4100] } })
        yield* client.awaitOpen
        yield* client.send(say("again"))
        const state = yield* reconnected(client)
        assert.deepStrictEqual([state.code, state.reason], [4100, "again"])
        assert.strictEqual(wire.sockets, 2)
        yield* server.drop
        assert.deepStrictEqual(yield* stateWhere(client, isClosed), { _tag: "Closed", code: 1006, reason: "" })
      }))
  })

  describe("state", () => {
    it.effect("starts Connecting (attempt 0), then Open", () =>
      Effect.gen(function*() {
        const { client } = yield* connected()
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Connecting", attempt: 0 })
        yield* client.awaitOpen
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Open" })
      }))

    it.effect("state.changes shows every transition", () =>
      Effect.gen(function*() {
        const { client, server } = yield* connected({ reconnect: { jitter: 0 } })
        yield* client.awaitOpen
        const seen: Array<State> = []
        const watcher = yield* Effect.forkChild(
          Stream.runForEach(
            Stream.takeUntil(SubscriptionRef.changes(client.state), (state) => state._tag === "Closed"),
            (state) => Effect.sync(() => void seen.push(state))
          )
        )
        yield* eventually("the watcher sees the state", Effect.sync(() => seen.length > 0 || undefined))
        yield* server.drop
        yield* reconnected(client)
        yield* client.close()
        yield* Fiber.join(watcher)
        assert.deepStrictEqual(seen, [
          { _tag: "Open" },
          { _tag: "Reconnecting", attempt: 1, delay: Duration.millis(500), code: 1006, reason: "" },
          { _tag: "Connecting", attempt: 1 },
          { _tag: "Open" },
          { _tag: "Closed", code: 1000, reason: "" }
        ])
      }))
  })

  describe("onConnect", () => {
    it.effect("runs on every connection, before the state says Open", () =>
      Effect.gen(function*() {
        const states: Array<string> = []
        const { client, server } = yield* connected({
          onConnect: (client) => Effect.map(SubscriptionRef.get(client.state), (state) => void states.push(state._tag))
        })
        yield* client.awaitOpen
        yield* server.drop
        yield* reconnected(client)
        assert.deepStrictEqual(states, ["Connecting", "Connecting"])
      }))

    it.effect("its sends and requests go out at once, before the frames kept while disconnected", () =>
      Effect.gen(function*() {
        const chat = yield* chatServer
        const server = yield* Testing.webSocket(chat.route)
        yield* server.refuse(true)
        const joined: Array<unknown> = []
        const client = yield* Client.make(Chat, url, {
          webSocket: server.WebSocket,
          heartbeat: false,
          buffer: 5,
          onConnect: (client) =>
            Effect.gen(function*() {
              yield* Effect.orDie(client.send(say("hello")))
              joined.push(yield* Effect.orDie(client.request("join", { room: "lobby" })))
            })
        })
        yield* reconnecting(client)
        yield* client.send(say("a"))
        yield* client.send(say("b"))
        yield* server.refuse(false)
        yield* reconnected(client)
        assert.deepStrictEqual(joined, [{ members: ["lobby", "ann"] }])
        assert.deepStrictEqual(yield* take(client, 3), ["hello", "a", "b"])
        assert.deepStrictEqual(
          yield* Effect.map(Queue.clear(chat.received), (chunk) => [...chunk]),
          ["hello", `join:{"room":"lobby"}`, "a", "b"]
        )
      }))
  })

  describe("heartbeat", () => {
    it.effect("a typed route answers it, so the client stays open across many intervals", () =>
      Effect.gen(function*() {
        const { client, received, wire } = yield* connected({ heartbeat: "1 second" })
        yield* client.awaitOpen
        for (let n = 1; n <= 10; n++) {
          yield* sleeperIn("1 second")
          yield* TestClock.adjust("1 second")
          const echo = `{"@heartbeat":${n}}`
          yield* eventually(`heartbeat ${n} answered`, Effect.sync(() => wire.received.includes(echo) || undefined))
        }
        assert.deepStrictEqual(wire.sent, Array.from({ length: 10 }, (_, i) => `{"@heartbeat":${i + 1}}`))
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Open" })
        assert.strictEqual(wire.sockets, 1)
        assert.strictEqual(yield* Queue.size(received), 0, "no heartbeat reached onMessage")
      }))

    it.effect("a route that does not answer: the client closes 4000 after two intervals, and reconnects", () =>
      Effect.gen(function*() {
        const silent = yield* silentServer
        const server = yield* Testing.webSocket(silent.route)
        const { WebSocket, wire } = spy(server.WebSocket)
        const client = yield* Client.make(Chat, url, { webSocket: WebSocket, heartbeat: "1 second" })
        yield* client.awaitOpen
        yield* sleeperIn("1 second")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Queue.take(silent.texts), `{"@heartbeat":1}`, "a plain route reads it as text")
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Open" }, "one interval is not enough")
        yield* sleeperIn("1 second")
        yield* TestClock.adjust("1 second")
        const state = yield* reconnecting(client)
        assert.deepStrictEqual([state.code, state.reason], [4000, "heartbeat timeout"])
        const closed = yield* Queue.take(silent.closes)
        assert.deepStrictEqual([closed.code, closed.reason], [4000, "heartbeat timeout"])
        yield* TestClock.adjust(state.delay)
        yield* client.awaitOpen
        assert.strictEqual(wire.sockets, 2)
      }))

    it.effect("heartbeat: false sends none", () =>
      Effect.gen(function*() {
        const silent = yield* silentServer
        const server = yield* Testing.webSocket(silent.route)
        const { WebSocket, wire } = spy(server.WebSocket)
        const client = yield* Client.make(Chat, url, { webSocket: WebSocket, heartbeat: false })
        yield* client.awaitOpen
        yield* TestClock.adjust("10 minutes")
        assert.deepStrictEqual(wire.sent, [])
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Open" })
        assert.strictEqual(yield* Queue.size(silent.texts), 0)
      }))
  })

  describe("close", () => {
    it.effect("closes with 1000: the server sees it, waiting requests fail Closed, messages ends", () =>
      Effect.gen(function*() {
        const { client, closes, held, server, wire } = yield* connected()
        yield* client.awaitOpen
        const waiting = yield* Effect.forkChild(client.request("hold", 1))
        yield* Queue.take(held)
        const messages = yield* Effect.forkChild(Stream.runCollect(client.messages))
        yield* client.close()
        const info = yield* Queue.take(closes)
        assert.deepStrictEqual([info.code, info.reason, info.initiator], [1000, "", "peer"])
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Closed", code: 1000, reason: "" })
        const error = yield* clientError(Fiber.join(waiting))
        assert.deepStrictEqual([error.reason, error.code], ["Closed", 1000])
        assert.strictEqual((yield* Fiber.join(messages)).length, 0)
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(wire.sockets, 1)
        assert.strictEqual(yield* server.connections, 0)
        yield* client.close()
      }))

    it.effect("while reconnecting: no connection is tried any more, kept frames and requests are dropped", () =>
      Effect.gen(function*() {
        const { client, server, wire } = yield* connected({ buffer: 10 })
        yield* client.awaitOpen
        yield* server.drop
        yield* reconnecting(client)
        yield* client.send(say("kept"))
        const waiting = yield* Effect.forkChild(client.request("join", { room: "kept" }))
        yield* client.close()
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Closed", code: 1000, reason: "" })
        assert.deepStrictEqual((yield* clientError(Fiber.join(waiting))).reason, "Closed")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(wire.sockets, 1)
        assert.deepStrictEqual(wire.sent, [])
      }))

    it.effect("close(4100, \"bye\"): the code and reason reach the server", () =>
      Effect.gen(function*() {
        const { client, closes } = yield* connected()
        yield* client.awaitOpen
        yield* client.close(4100, "bye")
        const info = yield* Queue.take(closes)
        assert.deepStrictEqual([info.code, info.reason], [4100, "bye"])
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Closed", code: 4100, reason: "bye" })
      }))

    it.effect("an invalid code or a reason over 123 bytes fails with InvalidOptions, and closes nothing", () =>
      Effect.gen(function*() {
        const { client } = yield* connected()
        yield* client.awaitOpen
        for (
          const [code, reason] of [[1001, ""], [1006, ""], [2999, ""], [5000, ""], [1000, "é".repeat(62)]] as const
        ) {
          const error = yield* clientError(client.close(code, reason))
          assert.strictEqual(error.reason, "InvalidOptions", `${code}`)
        }
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Open" })
        yield* client.send(say("still"))
        assert.deepStrictEqual(yield* take(client, 1), ["still"])
      }))

    it.effect("closing its scope closes the client", () =>
      Effect.gen(function*() {
        const chat = yield* chatServer
        const server = yield* Testing.webSocket(chat.route)
        const client = yield* Effect.scoped(
          Effect.tap(
            Client.make(Chat, url, { webSocket: server.WebSocket, heartbeat: false }),
            (client) => client.awaitOpen
          )
        )
        const info = yield* Queue.take(chat.closes)
        assert.strictEqual(info.code, 1000)
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Closed", code: 1000, reason: "" })
      }))
  })

  describe("make", () => {
    it.effect("fails with InvalidOptions for a bad URL or option", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket((yield* chatServer).route)
        const webSocket = server.WebSocket
        const cases: ReadonlyArray<readonly [string, string, Client.Options<In, Out, Req, {}, never>]> = [
          ["url", "not a url", {}],
          ["url", "http://test/chat", {}],
          ["buffer", url, { buffer: -1 }],
          ["buffer", url, { buffer: 1.5 }],
          ["capacity", url, { capacity: 0 }],
          ["heartbeat", url, { heartbeat: 0 }],
          ["requestTimeout", url, { requestTimeout: 0 }],
          ["reconnect.jitter", url, { reconnect: { jitter: 2 } }],
          ["reconnect.factor", url, { reconnect: { factor: 0.5 } }],
          ["reconnect.max", url, { reconnect: { initial: "10 seconds", max: "1 second" } }],
          ["reconnect.maxAttempts", url, { reconnect: { maxAttempts: -1 } }],
          ["reconnect.retryOn", url, { reconnect: { retryOn: [999] } }],
          // a negative number and text that is no duration are not durations either
          ["reconnect.initial", url, { reconnect: { initial: -5 } }],
          ["heartbeat", url, { heartbeat: "soon" as Duration.Input }],
          ["requestTimeout", url, { requestTimeout: Number.NaN }]
        ]
        for (const [field, where, options] of cases) {
          const error = yield* clientError(Client.make(Chat, where, { webSocket, ...options }))
          assert.strictEqual(error.reason, "InvalidOptions", field)
          assert.isTrue(error.detail?.startsWith(`${field}:`), `${error.detail} names ${field}`)
        }
        assert.strictEqual(yield* server.connections, 0, "nothing connected")
      }))

    it.effect("fails with Unsupported when there is no WebSocket to use", () =>
      Effect.gen(function*() {
        const global = globalThis as { WebSocket?: unknown }
        // Node 22 has a global WebSocket: hidden for this test
        if (global.WebSocket !== undefined) {
          const saved = global.WebSocket
          yield* Effect.acquireRelease(
            Effect.sync(() => delete global.WebSocket),
            () => Effect.sync(() => void (global.WebSocket = saved))
          )
        }
        const error = yield* clientError(Client.make(Chat, url, { webSocket: undefined }))
        assert.strictEqual(error.reason, "Unsupported")
        assert.include(error.message, "WebSocket")
      }))
  })

  describe("request", () => {
    it.effect("succeeds with the decoded success, or fails with the decoded failure", () =>
      Effect.gen(function*() {
        const { client } = yield* connected()
        yield* client.awaitOpen
        assert.deepStrictEqual(yield* client.request("join", { room: "lobby" }), { members: ["lobby", "ann"] })
        assert.deepStrictEqual(yield* Effect.flip(client.request("join", { room: "secret" })), { refused: "secret" })
      }))

    it.effect("fails with Timeout after requestTimeout; the late reply is then ignored", () =>
      Effect.gen(function*() {
        const { client, held, wire } = yield* connected({ requestTimeout: "2 seconds" })
        yield* client.awaitOpen
        const late = yield* Effect.forkChild(client.request("hold", 1))
        const first = yield* Queue.take(held)
        yield* sleeperIn("2 seconds")
        yield* TestClock.adjust("1999 millis")
        assert.isUndefined(late.pollUnsafe(), "not before its timeout")
        yield* TestClock.adjust("1 millis")
        const error = yield* requestError(Fiber.join(late))
        assert.deepStrictEqual([error.reason, error.request], ["Timeout", "hold"])
        // a later request, answered after the late reply, gets its own
        const fresh = yield* Effect.forkChild(client.request("hold", 2, { timeout: "1 minute" }))
        const second = yield* Queue.take(held)
        yield* Protocol.reply(first.connection, first.request, Effect.succeed("late"))
        yield* eventually(
          "the late reply came",
          Effect.sync(() => wire.received.some((f) => f.includes("late")) || undefined)
        )
        yield* Protocol.reply(second.connection, second.request, Effect.succeed("fresh"))
        assert.strictEqual(yield* Fiber.join(fresh), "fresh")
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Open" })
      }))

    it.effect("fails with Closed when its connection ends while it waits, and is not sent again", () =>
      Effect.gen(function*() {
        const { client, held, received, server } = yield* connected({ buffer: 10 })
        yield* client.awaitOpen
        const waiting = yield* Effect.forkChild(client.request("hold", 1))
        yield* Queue.take(held)
        assert.strictEqual(yield* Queue.take(received), "hold:1")
        yield* server.drop
        const error = yield* requestError(Fiber.join(waiting))
        assert.strictEqual(error.reason, "Closed")
        yield* reconnected(client)
        yield* client.send(say("marker"))
        assert.strictEqual(yield* Queue.take(received), "marker", "the request did not go out again")
      }))

    it.effect("made while disconnected with a buffer, goes out on the next connection and gets its reply", () =>
      Effect.gen(function*() {
        const { client, received, server } = yield* connected({ buffer: 10 })
        yield* client.awaitOpen
        yield* server.drop
        const state = yield* reconnecting(client)
        const joined = yield* Effect.forkChild(client.request("join", { room: "later" }))
        yield* TestClock.adjust(state.delay)
        assert.deepStrictEqual(yield* Fiber.join(joined), { members: ["later", "ann"] })
        assert.strictEqual(yield* Queue.take(received), `join:{"room":"later"}`)
      }))

    it.effect("made while disconnected, and timed out before the next connection, is not sent at all", () =>
      Effect.gen(function*() {
        const { client, received, server } = yield* connected({ buffer: 10, reconnect: { jitter: 0 } })
        yield* client.awaitOpen
        yield* server.refuse(true)
        yield* server.drop
        yield* reconnecting(client)
        const timedOut = yield* Effect.forkChild(client.request("join", { room: "gone" }, { timeout: "100 millis" }))
        yield* sleeperIn("100 millis")
        yield* TestClock.adjust("100 millis")
        assert.strictEqual((yield* requestError(Fiber.join(timedOut))).reason, "Timeout")
        yield* client.send(say("kept"))
        yield* server.refuse(false)
        yield* TestClock.adjust("400 millis")
        yield* client.awaitOpen
        assert.strictEqual(yield* Queue.take(received), "kept", "the timed-out request left the buffer")
      }))

    it.effect("made while disconnected without a buffer, fails with NotConnected", () =>
      Effect.gen(function*() {
        const { client, server } = yield* connected()
        yield* client.awaitOpen
        yield* server.drop
        yield* reconnecting(client)
        assert.strictEqual((yield* clientError(client.request("join", { room: "a" }))).reason, "NotConnected")
      }))

    it.effect("fails with InvalidReply for a reply that does not decode", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(rawServer({ join: "42" }))
        const client = yield* Client.make(Chat, url, { webSocket: server.WebSocket, heartbeat: false })
        yield* client.awaitOpen
        const error = yield* requestError(client.request("join", { room: "a" }))
        assert.deepStrictEqual([error.reason, error.request], ["InvalidReply", "join"])
        assert.isString(error.error)
        assert.deepStrictEqual(yield* SubscriptionRef.get(client.state), { _tag: "Open" })
      }))

    it.effect("fails with InvalidReply for a reply with a key that could reach a prototype", () =>
      Effect.gen(function*() {
        const server = yield* Testing.webSocket(rawServer({ profile: `{"__proto__":{"admin":true}}` }))
        const client = yield* Client.make(Chat, url, { webSocket: server.WebSocket, heartbeat: false })
        yield* client.awaitOpen
        const outcome = yield* Effect.result(client.request("profile", undefined))
        assert.isTrue(Result.isFailure(outcome), `decoded: ${JSON.stringify(outcome)}`)
        const error = yield* requestError(Effect.fromResult(outcome))
        assert.strictEqual(error.reason, "InvalidReply")
      }))

    it.effect("concurrent requests are matched by ref, whatever the order of their replies", () =>
      Effect.gen(function*() {
        const { client, held } = yield* connected()
        yield* client.awaitOpen
        const fibers = yield* Effect.forEach([1, 2, 3], (n) => Effect.forkChild(client.request("hold", n)))
        const requests = yield* Effect.forEach([1, 2, 3], () => Queue.take(held))
        for (const at of [2, 0, 1]) {
          const { connection, request } = requests[at]
          yield* Protocol.reply(connection, request, Effect.succeed(`answer to ${request.payload}`))
        }
        assert.deepStrictEqual(yield* Fiber.joinAll(fibers), ["answer to 1", "answer to 2", "answer to 3"])
      }))

    it.effect("requests and plain messages interleave on one connection", () =>
      Effect.gen(function*() {
        const { client, received } = yield* connected()
        yield* client.awaitOpen
        yield* client.send(say("a"))
        const first = yield* client.request("join", { room: "one" })
        yield* client.send(say("b"))
        const [second, third] = yield* Effect.all([
          client.request("join", { room: "two" }),
          client.request("join", { room: "three" })
        ], { concurrency: "unbounded" })
        yield* client.send(say("c"))
        assert.deepStrictEqual([first, second, third].map((r) => r.members[0]), ["one", "two", "three"])
        assert.deepStrictEqual(yield* take(client, 3), ["a", "b", "c"])
        const got = [...yield* Queue.takeN(received, 6)]
        assert.deepStrictEqual(got.filter((r) => !r.startsWith("join")), ["a", "b", "c"])
        assert.strictEqual(got.filter((r) => r.startsWith("join")).length, 3)
      }))
  })

  describe("onRequest", () => {
    it.effect("answers the server's requests, by name", () =>
      Effect.gen(function*() {
        const { client } = yield* connected({ onRequest: { whoAreYou: () => Effect.succeed("bob") } })
        yield* client.awaitOpen
        yield* client.send(say("who"))
        assert.deepStrictEqual(yield* take(client, 1), ["you are bob"])
      }))

    it.effect("a server request nothing answers is logged and left unanswered: the server's times out", () => {
      const lines: Array<LogLine> = []
      return Effect.gen(function*() {
        const { client, received } = yield* connected()
        yield* client.awaitOpen
        yield* client.send(say("who"))
        assert.strictEqual(yield* Queue.take(received), "who")
        yield* sleeperIn("10 seconds")
        yield* TestClock.adjust("10 seconds")
        assert.deepStrictEqual(yield* take(client, 1), ["no answer: RequestError"])
        assert.isTrue(warnings(lines).some((line) => line.includes("whoAreYou")), warnings(lines).join("; "))
      }).pipe(Effect.provide(recordLogs(lines)))
    })
  })

  describe("onRequest (hostile server)", () => {
    it.effect("a server request with a key that could reach a prototype is logged, and its handler not run", () => {
      const lines: Array<LogLine> = []
      return Effect.gen(function*() {
        const server = yield* Testing.webSocket(
          rawServer({}, `{"@request":"setProfile","@ref":1,"payload":{"__proto__":{"admin":true}}}`)
        )
        const { WebSocket, wire } = spy(server.WebSocket)
        const payloads: Array<unknown> = []
        const client = yield* Client.make(Chat, url, {
          webSocket: WebSocket,
          heartbeat: false,
          onRequest: { setProfile: (payload) => Effect.sync(() => payloads.push(payload)).pipe(Effect.as(true)) }
        })
        yield* client.awaitOpen
        yield* eventually("the request arrived", Effect.sync(() => wire.received.length > 0 || undefined))
        yield* eventually("a warning", Effect.sync(() => warnings(lines).length > 0 || undefined))
        assert.deepStrictEqual(payloads, [])
        assert.deepStrictEqual(wire.sent, [], "not answered")
      }).pipe(Effect.provide(recordLogs(lines)))
    })
  })

  describe("types", () => {
    it("make gives a client of the protocol's messages and requests", () => {
      const made = Client.make(Chat, url)
      expectTypeOf(made).toEqualTypeOf<
        Effect.Effect<Client.Client<In, Out, Req>, Client.ClientError, Scope.Scope>
      >()
    })

    it("request takes a declared name and its payload, and gives its success and failure", () => {
      // checked by the compiler, never run
      const check = (client: ChatClient) => {
        expectTypeOf(client.request("join", { room: "a" })).toEqualTypeOf<
          Effect.Effect<
            { readonly members: ReadonlyArray<string> },
            { readonly refused: string } | Client.RequestError | Client.ClientError | Protocol.EncodeError
          >
        >()
        expectTypeOf(client.request("hold", 1)).toEqualTypeOf<
          Effect.Effect<string, Client.RequestError | Client.ClientError | Protocol.EncodeError>
        >()
        // @ts-expect-error: not a request of Chat
        client.request("leave", { room: "a" })
        // @ts-expect-error: a payload of the wrong type
        client.request("join", { room: 1 })
        // @ts-expect-error: a server request is not the client's to send
        client.request("whoAreYou", undefined)
      }
      expectTypeOf(check).toBeFunction()
    })

    it("send takes only what the protocol's incoming schema describes", () => {
      // checked by the compiler, never run
      const check = (client: ChatClient) => {
        expectTypeOf(client.send).parameter(0).toEqualTypeOf<In>()
        // @ts-expect-error: an outgoing message, not an incoming one
        client.send(said("wrong direction"))
        // @ts-expect-error: a field of the wrong type
        client.send({ type: "count", n: "41" })
      }
      expectTypeOf(check).toBeFunction()
    })

    it("onRequest handlers answer with the declared success", () => {
      Client.make(Chat, url, { onRequest: { whoAreYou: () => Effect.succeed("bob") } })
      // @ts-expect-error: whoAreYou answers a string
      Client.make(Chat, url, { onRequest: { whoAreYou: () => Effect.succeed(42) } })
    })

    it("reply takes the request's success and failure; request gives the server request's", () => {
      Protocol.upgradeWebSocket(Chat, {
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state, message, connection) =>
          Effect.gen(function*() {
            if (message._tag === "Request" && message.name === "join") {
              expectTypeOf(message.payload).toEqualTypeOf<{ readonly room: string }>()
              yield* Protocol.reply(connection, message, Effect.succeed({ members: ["a"] }))
              yield* Protocol.reply(connection, message, Effect.fail({ refused: "no" }))
              // @ts-expect-error: members is a list of names
              yield* Protocol.reply(connection, message, Effect.succeed({ members: 3 }))
              // @ts-expect-error: not the declared failure
              yield* Protocol.reply(connection, message, Effect.fail("no"))
            }
            if (message._tag === "Request" && message.name === "hold") {
              expectTypeOf(message.payload).toEqualTypeOf<number>()
              // @ts-expect-error: hold declares no failure
              yield* Protocol.reply(connection, message, Effect.fail({ refused: "no" }))
            }
            const who = Protocol.request(connection, "whoAreYou", undefined)
            expectTypeOf(who).toEqualTypeOf<
              Effect.Effect<string, Protocol.RequestError | Connection.SendError | Protocol.EncodeError>
            >()
            // @ts-expect-error: join is the client's request, not the server's
            Protocol.request(connection, "join", { room: "a" })
            return Action.continueConnection(state)
          }).pipe(Effect.orDie),
        onClose: () => Effect.void
      })
    })
  })
})
