// The server's side of requests, replies and heartbeats on a typed route, driven with raw frames
// (Testing.connectTo): what the route answers, what it refuses, and what never reaches onMessage.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Queue, Result, Schema } from "effect"
import { Action, Connection, Protocol, Testing, Upgrade } from "effect-websocket"
import { TestClock } from "effect/testing"
import { eventually, sleeperIn } from "../support/clock.js"

const Rooms = Protocol.json({
  incoming: Schema.Struct({ type: Schema.Literal("say"), text: Schema.String }),
  outgoing: Schema.Struct({ type: Schema.Literal("said"), text: Schema.String }),
  requests: {
    join: {
      payload: Schema.Struct({ room: Schema.String }),
      success: Schema.Struct({ members: Schema.Array(Schema.String) }),
      failure: Schema.Struct({ refused: Schema.String })
    },
    meta: { payload: Schema.Record(Schema.String, Schema.Unknown), success: Schema.Number },
    count: { payload: Schema.Number, success: Schema.Number.check(Schema.isGreaterThan(0)) }
  },
  serverRequests: {
    whoAreYou: { payload: Schema.Void, success: Schema.String },
    confirm: {
      payload: Schema.Struct({ question: Schema.String }),
      success: Schema.Boolean,
      failure: Schema.Struct({ no: Schema.String })
    },
    profile: { payload: Schema.Void, success: Schema.Record(Schema.String, Schema.Unknown) }
  }
})
type RoomsMessage = Protocol.Message<
  Protocol.Incoming<typeof Rooms>,
  never,
  Protocol.RequestOf<Protocol.ClientRequests<typeof Rooms>>
>

const said = (text: string) => ({ type: "said", text }) as const
const text = (t: string) => ({ _tag: "Text", text: t }) as const

/**
 * The route of these tests: records every message `onMessage` receives. `join` is answered twice for
 * the room "twice" (then "done" is said); `meta` with the number of keys; `count` with its payload
 * (`EncodeError` for 0 or less, said, then answered with 1). "who" and "confirm" ask the client and
 * put the outcome in `outcomes` (and say it, while the connection lives); "block" waits for `gate`.
 */
const roomsServer = (options: Protocol.Options = {}) =>
  Effect.gen(function*() {
    const seen: Array<RoomsMessage> = []
    const outcomes = yield* Queue.unbounded<Result.Result<unknown, unknown>>()
    const gate = yield* Deferred.make<void>()
    const ask = (
      connection: Protocol.Connection<{ type: "said"; text: string }, Protocol.ServerRequests<typeof Rooms>>,
      request: Effect.Effect<unknown, unknown>
    ) =>
      Effect.gen(function*() {
        const outcome = yield* Effect.result(request)
        yield* Queue.offer(outcomes, outcome)
        const said_ = Result.isSuccess(outcome)
          ? `answered ${JSON.stringify(outcome.success)}`
          : `failed ${JSON.stringify(outcome.failure)}`
        yield* Effect.ignore(Protocol.send(connection, said(said_)))
      })
    const route = Protocol.upgradeWebSocket(Rooms, {
      onInit: () => Effect.succeed(Upgrade.initial(null)),
      onMessage: (state, message: RoomsMessage, connection) =>
        Effect.gen(function*() {
          seen.push(message)
          if (message._tag === "Request") {
            switch (message.name) {
              case "join": {
                const room = message.payload.room
                yield* Protocol.reply(
                  connection,
                  message,
                  room === "secret" ? Effect.fail({ refused: room }) : Effect.succeed({ members: [room] })
                )
                if (room === "twice") {
                  yield* Protocol.reply(connection, message, Effect.succeed({ members: ["again"] }))
                  yield* Protocol.send(connection, said("done"))
                }
                break
              }
              case "meta":
                yield* Protocol.reply(connection, message, Effect.succeed(Object.keys(message.payload).length))
                break
              case "count": {
                const first = yield* Effect.result(Protocol.reply(connection, message, Effect.succeed(message.payload)))
                if (Result.isFailure(first)) {
                  yield* Protocol.send(connection, said(first.failure._tag))
                  yield* Protocol.reply(connection, message, Effect.succeed(1))
                }
                break
              }
            }
          } else if (message._tag === "Decoded") {
            switch (message.value.text) {
              case "who":
                yield* ask(connection, Protocol.request(connection, "whoAreYou", undefined))
                break
              case "confirm":
                yield* ask(
                  connection,
                  Protocol.request(connection, "confirm", { question: "sure?" }, { timeout: "1 minute" })
                )
                break
              case "profile":
                yield* ask(connection, Protocol.request(connection, "profile", undefined))
                break
              case "block":
                yield* Deferred.await(gate)
                yield* Protocol.send(connection, said("unblocked"))
                break
              default:
                yield* Protocol.send(connection, said(message.value.text))
            }
          } else if (message._tag === "Invalid") {
            yield* Protocol.send(connection, said(`invalid: ${message.error}`))
          }
          return Action.continueConnection(state)
        }).pipe(Effect.orDie),
      onClose: () => Effect.void
    }, { heartbeat: false, idleTimeout: false, ...options } as Protocol.Options)
    return { route, seen, outcomes, gate }
  })

const request = (name: string, ref: number, payload?: unknown) =>
  JSON.stringify(payload === undefined ? { "@request": name, "@ref": ref } : { "@request": name, "@ref": ref, payload })

describe("Protocol requests", () => {
  describe("reply", () => {
    it.effect("answers a request with its success or its failure, under the request's ref", () =>
      Effect.gen(function*() {
        const { route } = yield* roomsServer()
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(request("join", 7, { room: "lobby" }))
        assert.deepStrictEqual(yield* client.receive, text(`{"@reply":7,"ok":{"members":["lobby"]}}`))
        yield* client.sendText(request("join", 8, { room: "secret" }))
        assert.deepStrictEqual(yield* client.receive, text(`{"@reply":8,"error":{"refused":"secret"}}`))
      }))

    it.effect("a second reply to the same request sends nothing", () =>
      Effect.gen(function*() {
        const { route } = yield* roomsServer()
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(request("join", 1, { room: "twice" }))
        assert.deepStrictEqual(yield* client.receive, text(`{"@reply":1,"ok":{"members":["twice"]}}`))
        assert.deepStrictEqual(yield* client.receive, text(JSON.stringify(said("done"))))
      }))

    it.effect("an answer that does not encode fails with EncodeError, sends nothing, and may be answered again", () =>
      Effect.gen(function*() {
        const { route } = yield* roomsServer()
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(request("count", 1, -5))
        assert.deepStrictEqual(yield* client.receive, text(JSON.stringify(said("EncodeError"))))
        assert.deepStrictEqual(yield* client.receive, text(`{"@reply":1,"ok":1}`))
        yield* client.sendText(request("count", 2, 5))
        assert.deepStrictEqual(yield* client.receive, text(`{"@reply":2,"ok":5}`))
      }))
  })

  describe("invalid requests", () => {
    it.effect("a request for a name the protocol does not declare closes with 1007", () =>
      Effect.gen(function*() {
        const { route, seen } = yield* roomsServer()
        for (const name of ["leave", "toString", "__proto__", "whoAreYou"]) {
          const client = yield* Testing.connectTo(route, "/")
          yield* client.sendText(request(name, 1, { room: "a" }))
          assert.deepStrictEqual(yield* client.closed, { code: 1007, reason: "invalid message" }, name)
        }
        assert.deepStrictEqual(seen, [])
      }))

    it.effect("a request whose payload does not decode closes with 1007", () =>
      Effect.gen(function*() {
        const { route, seen } = yield* roomsServer()
        for (const frame of [request("join", 1, { room: 1 }), request("join", 2), request("count", 3, "1")]) {
          const client = yield* Testing.connectTo(route, "/")
          yield* client.sendText(frame)
          assert.deepStrictEqual(yield* client.closed, { code: 1007, reason: "invalid message" }, frame)
        }
        assert.deepStrictEqual(seen, [])
      }))

    it.effect("with onInvalid deliver, both reach onMessage as Invalid, and the connection goes on", () =>
      Effect.gen(function*() {
        const { route, seen } = yield* roomsServer({ onInvalid: "deliver" })
        const client = yield* Testing.connectTo(route, "/")
        const unknown = request("leave", 1)
        const undecodable = request("join", 2, { room: 1 })
        yield* client.sendText(unknown)
        const first = yield* client.receive
        assert.include(first._tag === "Text" ? first.text : "", "no request is named \\\"leave\\\"")
        yield* client.sendText(undecodable)
        const second = yield* client.receive
        assert.include(
          second._tag === "Text" ? second.text : "",
          "the payload of the request \\\"join\\\" does not decode"
        )
        assert.deepStrictEqual(seen.map((m) => m._tag), ["Invalid", "Invalid"])
        assert.deepStrictEqual(seen.map((m) => (m._tag === "Invalid" ? m.raw : undefined)), [unknown, undecodable])
        yield* client.sendText(request("join", 3, { room: "a" }))
        assert.deepStrictEqual(yield* client.receive, text(`{"@reply":3,"ok":{"members":["a"]}}`))
      }))

    it.effect("a request with a key that could reach a prototype is refused", () =>
      Effect.gen(function*() {
        const { route, seen } = yield* roomsServer()
        const hostile = [
          `{"@request":"meta","@ref":1,"payload":{"__proto__":{"admin":true}}}`,
          `{"@request":"meta","@ref":1,"payload":{"a":{"b":{"__proto__":{}}}}}`,
          `{"@request":"meta","@ref":1,"payload":{"\\u005f\\u005fproto__":{"admin":true}}}`,
          `{"@request":"meta","@ref":1,"payload":{"constructor":{"prototype":{"admin":true}}}}`,
          `{"@request":"meta","@ref":1,"payload":{},"__proto__":{"admin":true}}`
        ]
        for (const frame of hostile) {
          const client = yield* Testing.connectTo(route, "/")
          yield* client.sendText(frame)
          assert.deepStrictEqual(yield* client.closed, { code: 1007, reason: "invalid message" }, frame)
        }
        assert.deepStrictEqual(seen, [])
        // the same request without the key is answered
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(`{"@request":"meta","@ref":2,"payload":{"proto":1,"ctor":2}}`)
        assert.deepStrictEqual(yield* client.receive, text(`{"@reply":2,"ok":2}`))
      }))

    it.effect("with onInvalid deliver, a request with a prototype key is an Invalid that says why", () =>
      Effect.gen(function*() {
        const { route, seen } = yield* roomsServer({ onInvalid: "deliver" })
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(`{"@request":"meta","@ref":1,"payload":{"__proto__":{"admin":true}}}`)
        const frame = yield* client.receive
        assert.include(frame._tag === "Text" ? frame.text : "", "refused")
        assert.deepStrictEqual(seen.map((m) => m._tag), ["Invalid"])
      }))

    it.effect("a protocol without requests reads a request envelope as an ordinary message, which is invalid", () =>
      Effect.gen(function*() {
        const Plain = Protocol.json({
          incoming: Schema.Struct({ type: Schema.Literal("say"), text: Schema.String }),
          outgoing: Schema.String
        })
        const seen: Array<Protocol.Message<Protocol.Incoming<typeof Plain>>> = []
        const handlers = {
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: (state: null, message: Protocol.Message<Protocol.Incoming<typeof Plain>>) =>
            Effect.sync(() => {
              seen.push(message)
              return Action.continueConnection(state)
            }),
          onClose: () => Effect.void
        }
        const frame = request("join", 1, { room: "a" })
        const closing = yield* Testing.connectTo(Protocol.upgradeWebSocket(Plain, handlers, { heartbeat: false }), "/")
        yield* closing.sendText(frame)
        assert.deepStrictEqual(yield* closing.closed, { code: 1007, reason: "invalid message" })
        const delivering = yield* Testing.connectTo(
          Protocol.upgradeWebSocket(Plain, handlers, { heartbeat: false, onInvalid: "deliver" }),
          "/"
        )
        yield* delivering.sendText(frame)
        yield* eventually("the frame is delivered", Effect.sync(() => seen.length > 0 || undefined))
        assert.strictEqual(seen[0]._tag, "Invalid")
        assert.strictEqual(seen[0]._tag === "Invalid" ? seen[0].raw : undefined, frame)
        // a heartbeat is still answered: every typed route does
        yield* delivering.sendText(`{"@heartbeat":3}`)
        assert.deepStrictEqual(yield* delivering.receive, text(`{"@heartbeat":3}`))
        assert.strictEqual(seen.length, 1)
      }))
  })

  describe("request", () => {
    it.effect("from onMessage, awaits the client's reply without blocking the route's reading", () =>
      Effect.gen(function*() {
        const { route, outcomes } = yield* roomsServer()
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(JSON.stringify({ type: "say", text: "who" }))
        assert.deepStrictEqual(yield* client.receive, text(`{"@request":"whoAreYou","@ref":1}`))
        yield* client.sendText(`{"@reply":1,"ok":"bob"}`)
        assert.deepStrictEqual(yield* Queue.take(outcomes), Result.succeed("bob"))
        assert.deepStrictEqual(yield* client.receive, text(JSON.stringify(said(`answered "bob"`))))
        yield* client.sendText(JSON.stringify({ type: "say", text: "confirm" }))
        assert.deepStrictEqual(
          yield* client.receive,
          text(`{"@request":"confirm","@ref":2,"payload":{"question":"sure?"}}`)
        )
        yield* client.sendText(`{"@reply":2,"error":{"no":"never"}}`)
        assert.deepStrictEqual(yield* Queue.take(outcomes), Result.fail({ no: "never" }))
      }))

    it.effect("fails with Timeout when no reply comes in time; a late reply is dropped", () =>
      Effect.gen(function*() {
        const { route, outcomes, seen } = yield* roomsServer()
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(JSON.stringify({ type: "say", text: "who" }))
        assert.deepStrictEqual(yield* client.receive, text(`{"@request":"whoAreYou","@ref":1}`))
        yield* sleeperIn("10 seconds")
        yield* TestClock.adjust("10 seconds")
        const outcome = yield* Queue.take(outcomes)
        assert.isTrue(Result.isFailure(outcome))
        const error = Result.isFailure(outcome) ? outcome.failure : undefined
        assert.instanceOf(error, Protocol.RequestError)
        assert.deepStrictEqual([(error as Protocol.RequestError).reason, (error as Protocol.RequestError).request], [
          "Timeout",
          "whoAreYou"
        ])
        yield* client.receive
        yield* client.sendText(`{"@reply":1,"ok":"late"}`)
        yield* client.sendText(JSON.stringify({ type: "say", text: "still here" }))
        assert.deepStrictEqual(yield* client.receive, text(JSON.stringify(said("still here"))))
        assert.deepStrictEqual(seen.map((m) => m._tag), ["Decoded", "Decoded"], "the late reply reached no handler")
      }))

    it.effect("fails with Closed when the connection ends first", () =>
      Effect.gen(function*() {
        for (const end of ["close", "drop"] as const) {
          const { route, outcomes } = yield* roomsServer()
          const client = yield* Testing.connectTo(route, "/")
          yield* client.sendText(JSON.stringify({ type: "say", text: "who" }))
          assert.deepStrictEqual(yield* client.receive, text(`{"@request":"whoAreYou","@ref":1}`))
          yield* end === "close" ? client.close(1000) : client.drop
          const outcome = yield* eventually(
            `the request fails on ${end}`,
            Queue.poll(outcomes).pipe(Effect.map((o) => o._tag === "Some" ? o.value : undefined))
          )
          const error = Result.isFailure(outcome) ? outcome.failure : undefined
          assert.instanceOf(error, Protocol.RequestError, end)
          assert.strictEqual((error as Protocol.RequestError).reason, "Closed", end)
        }
      }))

    it.effect("fails with InvalidReply when the client's answer does not decode", () =>
      Effect.gen(function*() {
        const { route, outcomes } = yield* roomsServer()
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(JSON.stringify({ type: "say", text: "who" }))
        yield* client.receive
        yield* client.sendText(`{"@reply":1,"ok":42}`)
        const outcome = yield* Queue.take(outcomes)
        const error = Result.isFailure(outcome) ? outcome.failure : undefined
        assert.instanceOf(error, Protocol.RequestError)
        assert.strictEqual((error as Protocol.RequestError).reason, "InvalidReply")
        assert.isString((error as Protocol.RequestError).error)
      }))

    it.effect("fails with InvalidReply when the client's answer holds a key that could reach a prototype", () =>
      Effect.gen(function*() {
        const { route, outcomes } = yield* roomsServer()
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(JSON.stringify({ type: "say", text: "profile" }))
        assert.deepStrictEqual(yield* client.receive, text(`{"@request":"profile","@ref":1}`))
        yield* client.sendText(`{"@reply":1,"ok":{"__proto__":{"admin":true}}}`)
        const outcome = yield* Queue.take(outcomes)
        const error = Result.isFailure(outcome) ? outcome.failure : undefined
        assert.instanceOf(error, Protocol.RequestError, `not decoded: ${JSON.stringify(outcome)}`)
        assert.strictEqual((error as Protocol.RequestError).reason, "InvalidReply")
        yield* client.receive
        // the same answer without the key is taken
        yield* client.sendText(JSON.stringify({ type: "say", text: "profile" }))
        yield* client.receive
        yield* client.sendText(`{"@reply":2,"ok":{"admin":true}}`)
        assert.deepStrictEqual(yield* Queue.take(outcomes), Result.succeed({ admin: true }))
      }))
  })

  describe("heartbeat", () => {
    it.effect("a typed route answers it at once, even while its handler is busy, and onMessage never sees it", () =>
      Effect.gen(function*() {
        const { gate, route, seen } = yield* roomsServer()
        const client = yield* Testing.connectTo(route, "/")
        yield* client.sendText(JSON.stringify({ type: "say", text: "block" }))
        yield* eventually("the handler is blocked", Effect.sync(() => seen.length > 0 || undefined))
        for (const id of [1, 2, 3]) {
          yield* client.sendText(`{"@heartbeat":${id}}`)
          assert.deepStrictEqual(yield* client.receive, text(`{"@heartbeat":${id}}`))
        }
        yield* Deferred.succeed(gate, undefined)
        assert.deepStrictEqual(yield* client.receive, text(JSON.stringify(said("unblocked"))))
        yield* client.sendText(`{"@heartbeat":4}`)
        assert.deepStrictEqual(yield* client.receive, text(`{"@heartbeat":4}`))
        assert.strictEqual(seen.length, 1, "only the message that blocked")
      }))

    it.effect("a plain Upgrade route receives it as an ordinary text", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect({
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: (state: null, message, connection) =>
            Effect.as(
              message._tag === "TextMessage" ? Connection.sendText(connection, `got ${message.text}`) : Effect.void,
              Action.continueConnection(state)
            ),
          onClose: () => Effect.void
        }, { upgrade: { heartbeat: false } })
        for (const frame of [`{"@heartbeat":1}`, `{"@reply":1,"ok":1}`, request("join", 1, { room: "a" })]) {
          yield* client.sendText(frame)
          assert.deepStrictEqual(
            yield* client.receive,
            text(`got ${frame}`),
            "the handler had it, nothing else answered"
          )
        }
        yield* client.expectNoFrame("20 millis")
      }))
  })
})
