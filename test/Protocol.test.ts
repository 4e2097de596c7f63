import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, Either, ParseResult, Schema } from "effect"
import { Action, Broadcast, Connection, Protocol, Testing, Upgrade } from "effect-websocket"

// What the client sends, and what the server answers.
const Say = Schema.Struct({ type: Schema.Literal("say"), text: Schema.String.pipe(Schema.maxLength(10)) })
const Ping = Schema.Struct({ type: Schema.Literal("ping") })
const Incoming = Schema.Union(Say, Ping)
const Said = Schema.Struct({
  type: Schema.Literal("said"),
  text: Schema.String,
  count: Schema.Number.pipe(Schema.positive())
})
const Problem = Schema.Struct({ type: Schema.Literal("problem"), error: Schema.String })
const Outgoing = Schema.Union(Said, Problem)
const Chat = Protocol.json({ incoming: Incoming, outgoing: Outgoing })

/** Counts what it said; `say` with text "zero" tries to send count 0, which the outgoing schema refuses. */
const chat = (options?: Protocol.Options) =>
  Protocol.upgradeWebSocket(Chat, {
    onInit: () => Effect.succeed(Upgrade.initial(0)),
    onMessage: (count, message, connection) =>
      Effect.gen(function*() {
        switch (message._tag) {
          case "Decoded": {
            if (message.value.type === "ping") return Action.continueConnection(count)
            const next = message.value.text === "zero" ? 0 : count + 1
            const sent = yield* Effect.either(
              Protocol.send(connection, { type: "said", text: message.value.text, count: next })
            )
            if (Either.isLeft(sent)) {
              assert.strictEqual(sent.left._tag, "EncodeError")
              yield* Protocol.send(connection, { type: "problem", error: "could not encode" })
            }
            return Action.continueConnection(next)
          }
          case "Invalid":
            yield* Protocol.send(connection, { type: "problem", error: message.error })
            return Action.continueConnection(count)
          default:
            return Action.continueConnection(count)
        }
      }),
    onClose: () => Effect.void
  }, { heartbeat: false, idleTimeout: false, ...options })

const said = (text: string, count: number) => ({ type: "said", text, count }) as const

describe("Protocol", () => {
  describe("JSON", () => {
    it.scoped("decodes what the client sends and encodes what the server sends", () =>
      Effect.gen(function*() {
        const client = Testing.typed(Chat, yield* Testing.connectTo(chat(), "/"))
        yield* client.send({ type: "say", text: "hello" })
        yield* client.send({ type: "ping" })
        yield* client.send({ type: "say", text: "again" })
        assert.deepStrictEqual(yield* client.receive, said("hello", 1))
        assert.deepStrictEqual(yield* client.receive, said("again", 2))
        // on the wire: JSON in a text frame
        yield* client.client.sendText(JSON.stringify({ type: "say", text: "raw" }))
        assert.deepStrictEqual(yield* client.client.receive, { _tag: "Text", text: JSON.stringify(said("raw", 3)) })
      }))

    for (
      const [what, frame] of [
        ["invalid JSON", "{not json"],
        ["valid JSON of the wrong shape", JSON.stringify({ type: "shout", text: "hi" })],
        ["a field whose refinement fails", JSON.stringify({ type: "say", text: "far too long for ten" })]
      ] as const
    ) {
      it.scoped(`${what} closes with 1007 and a reason that does not echo the payload`, () =>
        Effect.gen(function*() {
          const bad = yield* Testing.connectTo(chat(), "/")
          const good = Testing.typed(Chat, yield* Testing.connectTo(chat(), "/"))
          yield* bad.sendText(frame)
          assert.deepStrictEqual(yield* bad.closed, { code: 1007, reason: "invalid message" })
          assert.strictEqual((yield* bad.closeInfo).initiator, "server")
          yield* good.send({ type: "say", text: "unharmed" })
          assert.deepStrictEqual(yield* good.receive, said("unharmed", 1))
        }))

      it.scoped(`${what} with onInvalid: deliver reaches the handler, which answers and goes on`, () =>
        Effect.gen(function*() {
          const client = Testing.typed(Chat, yield* Testing.connectTo(chat({ onInvalid: "deliver" }), "/"))
          yield* client.client.sendText(frame)
          const problem = yield* client.receive
          assert.strictEqual(problem.type, "problem")
          assert.isAbove(problem.type === "problem" ? problem.error.length : 0, 0)
          yield* client.send({ type: "say", text: "after" })
          assert.deepStrictEqual(yield* client.receive, said("after", 1))
        }))
    }

    it.scoped("Invalid carries the schema's formatted error and the raw frame", () =>
      Effect.gen(function*() {
        const seen: Array<Protocol.Invalid> = []
        const route = Protocol.upgradeWebSocket(Chat, {
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: (state, message) =>
            Effect.sync(() => {
              if (message._tag === "Invalid") seen.push(message)
              return Action.continueConnection(state)
            }),
          onClose: () => Effect.void
        }, { onInvalid: "deliver" })
        const client = yield* Testing.connectTo(route, "/")
        const frame = JSON.stringify({ type: "say", text: "far too long for ten" })
        yield* client.sendText(frame)
        yield* client.sendBinary(new Uint8Array([1, 2]))
        assert.strictEqual((yield* client.closed).code, 1003)
        const expected = Schema.decodeUnknownEither(Incoming)({ type: "say", text: "far too long for ten" })
        assert.isTrue(Either.isLeft(expected))
        assert.deepStrictEqual(seen[0], {
          _tag: "Invalid",
          error: ParseResult.TreeFormatter.formatErrorSync(Either.isLeft(expected) ? expected.left : undefined!),
          raw: frame
        })
        assert.strictEqual(seen.length, 1, "a binary frame on a JSON protocol closes (strictFrames) instead")
      }))

    it.scoped("a binary frame on a JSON protocol closes with 1003; with strictFrames: false it is invalid", () =>
      Effect.gen(function*() {
        const strict = yield* Testing.connectTo(chat(), "/")
        yield* strict.sendBinary(new Uint8Array([123]))
        assert.deepStrictEqual(yield* strict.closed, { code: 1003, reason: "unsupported frame type" })
        const lenient = yield* Testing.connectTo(chat({ strictFrames: false }), "/")
        yield* lenient.sendBinary(new Uint8Array([123]))
        assert.deepStrictEqual(yield* lenient.closed, { code: 1007, reason: "invalid message" })
      }))

    it.scoped("an oversize frame closes with 1009 before any decoding", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connectTo(chat({ maxMessageSize: 64 }), "/")
        yield* client.sendText(JSON.stringify({ type: "say", text: "x".repeat(100) }))
        assert.strictEqual((yield* client.closed).code, 1009)
      }))

    it.scoped("a typed send of a value the schema refuses fails with EncodeError, not a defect", () =>
      Effect.gen(function*() {
        const client = Testing.typed(Chat, yield* Testing.connectTo(chat(), "/"))
        yield* client.send({ type: "say", text: "zero" })
        assert.deepStrictEqual(yield* client.receive, { type: "problem", error: "could not encode" })
        yield* client.send({ type: "say", text: "next" })
        assert.deepStrictEqual(yield* client.receive, said("next", 1))
      }))

    it.scoped("a typed client fails with Undecodable on a frame its protocol does not decode", () =>
      Effect.gen(function*() {
        const route = Upgrade.upgradeWebSocket({
          onInit: (connection) =>
            Effect.as(Effect.orDie(Connection.sendText(connection, "not json")), Upgrade.initial(null)),
          onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
          onClose: () => Effect.void
        })
        const client = Testing.typed(Chat, yield* Testing.connectTo(route, "/"))
        const error = yield* Effect.flip(client.receive)
        assert.strictEqual(error.reason, "Undecodable")
      }))

    it.scoped("Protocol.publish encodes once for every subscriber", () =>
      Effect.gen(function*() {
        const route = Protocol.upgradeWebSocket(Chat, {
          onInit: (connection) => Effect.as(Broadcast.subscribe(connection, "news"), Upgrade.initial(null)),
          onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
          onClose: () => Effect.void
        })
        const clients = [
          Testing.typed(Chat, yield* Testing.connectTo(route, "/")),
          Testing.typed(Chat, yield* Testing.connectTo(route, "/"))
        ]
        yield* Protocol.publish(Chat, "news", said("headline", 7))
        for (const client of clients) assert.deepStrictEqual(yield* client.receive, said("headline", 7))
        const refused = yield* Effect.flip(Protocol.publish(Chat, "news", said("bad", -1)))
        assert.strictEqual(refused._tag, "EncodeError")
      }).pipe(Effect.provide(Broadcast.layer())))
  })

  describe("binary", () => {
    // a length-prefixed string: one byte of length, then UTF-8
    const Prefixed = Schema.transformOrFail(Schema.Uint8ArrayFromSelf, Schema.String, {
      strict: true,
      decode: (bytes, _, ast) =>
        bytes.length >= 1 && bytes[0] === bytes.length - 1
          ? ParseResult.succeed(new TextDecoder().decode(bytes.subarray(1)))
          : ParseResult.fail(new ParseResult.Type(ast, bytes, "bad length prefix")),
      encode: (text) => {
        const body = new TextEncoder().encode(text)
        return ParseResult.succeed(new Uint8Array([body.length, ...body]))
      }
    })
    const Shout = Protocol.binary({ incoming: Prefixed, outgoing: Prefixed })
    const shout = Protocol.upgradeWebSocket(Shout, {
      onInit: () => Effect.succeed(Upgrade.initial(null)),
      onMessage: (state, message, connection) =>
        message._tag === "Decoded"
          ? Effect.as(Protocol.send(connection, message.value.toUpperCase()), Action.continueConnection(state))
          : Effect.succeed(Action.continueConnection(state)),
      onClose: () => Effect.void
    })

    it.scoped("decodes and encodes bytes with the app's format; text frames close with 1003", () =>
      Effect.gen(function*() {
        const client = Testing.typed(Shout, yield* Testing.connectTo(shout, "/"))
        yield* client.send("hello")
        assert.strictEqual(yield* client.receive, "HELLO")
        yield* client.client.sendBinary(new Uint8Array([9, 1]))
        assert.deepStrictEqual(yield* client.client.closed, { code: 1007, reason: "invalid message" })
        const texting = yield* Testing.connectTo(shout, "/")
        yield* texting.sendText("hello")
        assert.deepStrictEqual(yield* texting.closed, { code: 1003, reason: "unsupported frame type" })
      }))
  })

  describe("types", () => {
    it("onMessage receives the decoded type, and send takes only the outgoing type", () => {
      Protocol.upgradeWebSocket(Chat, {
        onInit: (connection) => {
          expectTypeOf(connection).toEqualTypeOf<Protocol.Connection<Schema.Schema.Type<typeof Outgoing>>>()
          return Effect.succeed(Upgrade.initial(0))
        },
        onMessage: (count, message, connection) => {
          if (message._tag === "Decoded") {
            expectTypeOf(message.value).toEqualTypeOf<Schema.Schema.Type<typeof Incoming>>()
            // @ts-expect-error: not an outgoing message
            Protocol.send(connection, { type: "say", text: "wrong direction" })
            // @ts-expect-error: a field of the wrong type
            Protocol.send(connection, { type: "said", text: "x", count: "one" })
          }
          return Effect.as(
            Protocol.send(connection, { type: "said", text: "ok", count: 1 }),
            Action.continueConnection(count)
          )
        },
        onClose: () => Effect.void
      })
      const typedSend = Protocol.send<Schema.Schema.Type<typeof Outgoing>>
      expectTypeOf(typedSend).returns.toEqualTypeOf<
        Effect.Effect<void, Connection.SendError | Protocol.EncodeError>
      >()
    })
  })
})
