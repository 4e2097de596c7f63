import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, References, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { Action, Broadcast, Connection, Protocol, Testing, Upgrade } from "effect-websocket"
import { type LogLine, recordLogs, warnings } from "../support/logs.js"

// What the client sends, and what the server answers.
const Say = Schema.Struct({ type: Schema.Literal("say"), text: Schema.String.check(Schema.isMaxLength(10)) })
const Ping = Schema.Struct({ type: Schema.Literal("ping") })
const Incoming = Schema.Union([Say, Ping])
const Said = Schema.Struct({
  type: Schema.Literal("said"),
  text: Schema.String,
  count: Schema.Number.check(Schema.isGreaterThan(0))
})
const Problem = Schema.Struct({ type: Schema.Literal("problem"), error: Schema.String })
const Outgoing = Schema.Union([Said, Problem])
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
            const sent = yield* Effect.result(
              Protocol.send(connection, { type: "said", text: message.value.text, count: next })
            )
            if (Result.isFailure(sent)) {
              assert.strictEqual(sent.failure._tag, "EncodeError")
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

// Hostile input (issue 21): deep nesting, keys that reach a prototype, values JSON cannot carry.
interface Nest extends ReadonlyArray<Nest> {}
const Nest: Schema.Codec<Nest> = Schema.Array(Schema.suspend((): Schema.Codec<Nest> => Nest))
const AnyRecord = Schema.Record(Schema.String, Schema.Unknown)
const HostileIncoming = Schema.Union([
  Schema.Struct({ type: Schema.Literal("sum"), values: Schema.Array(Schema.Number) }),
  Schema.Struct({ type: Schema.Literal("meta"), data: AnyRecord }),
  Schema.StructWithRest(Schema.Struct({ type: Schema.Literal("extra") }), [AnyRecord]),
  Schema.Struct({ type: Schema.Literal("tree"), tree: Nest }),
  Schema.Struct({ type: Schema.Literal("counts"), counts: Schema.Record(Schema.String, Schema.Number) })
])
const Hostile = Protocol.json({ incoming: HostileIncoming, outgoing: Schema.String })
type HostileMessage = Protocol.Message<Protocol.Incoming<typeof Hostile>>

/** Records what `onMessage` receives and answers each data frame with its tag, so a test can wait for it. */
const recorder = (seen: Array<HostileMessage>, options?: Protocol.Options) =>
  Protocol.upgradeWebSocket(Hostile, {
    onInit: () => Effect.succeed(Upgrade.initial(null)),
    onMessage: (state, message, connection) =>
      Effect.gen(function*() {
        seen.push(message)
        if (message._tag === "Decoded" || message._tag === "Invalid") {
          yield* Effect.orDie(Protocol.send(connection, message._tag))
        }
        return Action.continueConnection(state)
      }),
    onClose: () => Effect.void
  }, { heartbeat: false, idleTimeout: false, maxMessageSize: 16 * 1024, ...options })

const nested = (depth: number, inner = "") => "[".repeat(depth) + inner + "]".repeat(depth)

/** The brief's frame: 6 KB, 3,000 arrays deep where numbers are expected. */
const deepSum = `{"type":"sum","values":${nested(3000)}}`

/**
 * A tree whose wrong leaf is 3,000 arrays deep: Effect 4's formatter does not print the value (which
 * made `deepSum` too deep to describe on Effect 3), but the issue's path is as deep as the leaf.
 */
const deepLeaf = `{"type":"tree","tree":${nested(3000, "1")}}`

const pollutedPrototype = () => "isAdmin" in Object.prototype || "polluted" in Object.prototype

// What the server sends: `Values` carries any value in `items`, and a number the schema takes as it
// is (Infinity included); the route answers a case's name with that case's value.
const Values = Schema.Struct({ count: Schema.Number, items: Schema.Array(Schema.Unknown) })
const Sender = Protocol.json({ incoming: Schema.String, outgoing: Values })
const deepValue = (depth: number): unknown => {
  let value: unknown = []
  for (let i = 0; i < depth; i++) value = [value]
  return value
}
const unsendable: ReadonlyArray<readonly [string, Schema.Schema.Type<typeof Values>]> = [
  ["Infinity", { count: Infinity, items: [] }],
  ["-Infinity", { count: -Infinity, items: [] }],
  ["NaN", { count: NaN, items: [] }],
  ["NaN deep inside", { count: 1, items: [{ a: { b: [1, NaN] } }] }],
  ["Infinity in an object inside an array", { count: 1, items: [[{ x: Infinity }]] }],
  ["undefined in an array", { count: 1, items: [1, undefined] }],
  ["a function in an array", { count: 1, items: [() => 1] }],
  ["a symbol in an array", { count: 1, items: [Symbol("s")] }],
  ["a bigint", { count: 1, items: [{ big: 1n }] }],
  ["a value nested too deeply for JSON.stringify", { count: 1, items: [deepValue(100_000)] }]
]
const sendable: Schema.Schema.Type<typeof Values> = {
  count: 0,
  items: [null, "null", { nothing: null, dropped: undefined }, [null], -0, 1e308]
}
const sender = Protocol.upgradeWebSocket(Sender, {
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state, message, connection) =>
    message._tag === "Decoded"
      ? Protocol.send(
        connection,
        unsendable.find(([name]) => name === message.value)?.[1] ?? sendable
      ).pipe(
        Effect.catchTag("EncodeError", (error) => Connection.sendText(connection, `EncodeError: ${error.error}`)),
        Effect.orDie,
        Effect.as(Action.continueConnection(state))
      )
      : Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}, { heartbeat: false, idleTimeout: false })

describe("Protocol", () => {
  describe("JSON", () => {
    it.effect("decodes what the client sends and encodes what the server sends", () =>
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
      it.effect(`${what} closes with 1007 and a reason that does not echo the payload`, () =>
        Effect.gen(function*() {
          const bad = yield* Testing.connectTo(chat(), "/")
          const good = Testing.typed(Chat, yield* Testing.connectTo(chat(), "/"))
          yield* bad.sendText(frame)
          assert.deepStrictEqual(yield* bad.closed, { code: 1007, reason: "invalid message" })
          assert.strictEqual((yield* bad.closeInfo).initiator, "server")
          yield* good.send({ type: "say", text: "unharmed" })
          assert.deepStrictEqual(yield* good.receive, said("unharmed", 1))
        }))

      it.effect(`${what} with onInvalid: deliver reaches the handler, which answers and goes on`, () =>
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

    it.effect("Invalid carries the schema's formatted error and the raw frame", () =>
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
        const expected = Schema.decodeUnknownResult(Incoming)({ type: "say", text: "far too long for ten" })
        assert.isTrue(Result.isFailure(expected))
        assert.deepStrictEqual(seen[0], {
          _tag: "Invalid",
          error: SchemaIssue.makeFormatterDefault()(Result.isFailure(expected) ? expected.failure.issue : undefined!),
          raw: frame
        })
        // Effect 4's default formatting: what was expected and where, not the value received
        assert.strictEqual(seen[0].error, "Expected a value with a length of at most 10\n  at [\"text\"]")
        assert.strictEqual(seen.length, 1, "a binary frame on a JSON protocol closes (strictFrames) instead")
      }))

    it.effect("a binary frame on a JSON protocol closes with 1003; with strictFrames: false it is invalid", () =>
      Effect.gen(function*() {
        const strict = yield* Testing.connectTo(chat(), "/")
        yield* strict.sendBinary(new Uint8Array([123]))
        assert.deepStrictEqual(yield* strict.closed, { code: 1003, reason: "unsupported frame type" })
        const lenient = yield* Testing.connectTo(chat({ strictFrames: false }), "/")
        yield* lenient.sendBinary(new Uint8Array([123]))
        assert.deepStrictEqual(yield* lenient.closed, { code: 1007, reason: "invalid message" })
      }))

    it.effect("an oversize frame closes with 1009 before any decoding", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connectTo(chat({ maxMessageSize: 64 }), "/")
        yield* client.sendText(JSON.stringify({ type: "say", text: "x".repeat(100) }))
        assert.strictEqual((yield* client.closed).code, 1009)
      }))

    it.effect("a typed send of a value the schema refuses fails with EncodeError, not a defect", () =>
      Effect.gen(function*() {
        const client = Testing.typed(Chat, yield* Testing.connectTo(chat(), "/"))
        yield* client.send({ type: "say", text: "zero" })
        assert.deepStrictEqual(yield* client.receive, { type: "problem", error: "could not encode" })
        yield* client.send({ type: "say", text: "next" })
        assert.deepStrictEqual(yield* client.receive, said("next", 1))
      }))

    it.effect("a typed client fails with Undecodable on a frame its protocol does not decode", () =>
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

    it.effect("Protocol.publish encodes once for every subscriber", () =>
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

  describe("deep input", () => {
    it.effect("a frame too deep to describe closes with 1007, not 1011, and logs no error", () => {
      const lines: Array<LogLine> = []
      return Effect.gen(function*() {
        for (const frame of [deepSum, deepLeaf]) {
          const bad = yield* Testing.connectTo(recorder([]), "/")
          yield* bad.sendText(frame)
          assert.deepStrictEqual(yield* bad.closed, { code: 1007, reason: "invalid message" })
          yield* bad.closeInfo
        }
        assert.deepStrictEqual(warnings(lines), [])
      }).pipe(Effect.provide(recordLogs(lines)), Effect.provideService(References.MinimumLogLevel, "Debug"))
    })

    it.effect("with onInvalid: deliver, a frame too deep to describe is Invalid with a short error", () =>
      Effect.gen(function*() {
        const seen: Array<HostileMessage> = []
        const client = Testing.typed(Hostile, yield* Testing.connectTo(recorder(seen, { onInvalid: "deliver" }), "/"))
        yield* client.client.sendText(deepSum)
        assert.strictEqual(yield* client.receive, "Invalid")
        yield* client.send({ type: "sum", values: [1, 2] })
        assert.strictEqual(yield* client.receive, "Decoded")
        const invalid = seen[0]
        assert.strictEqual(invalid._tag, "Invalid")
        if (invalid._tag === "Invalid") {
          assert.isAbove(invalid.error.length, 0)
          assert.isAtMost(invalid.error.length, 1100)
          assert.strictEqual(invalid.raw, deepSum)
        }
        // the wrong leaf 3,000 deep: too deep to describe (or, with less stack left, to decode)
        yield* client.client.sendText(deepLeaf)
        assert.strictEqual(yield* client.receive, "Invalid")
        const deep = seen[2]
        assert.strictEqual(deep._tag, "Invalid")
        if (deep._tag === "Invalid") {
          assert.include(deep.error, "nested too deeply")
          assert.strictEqual(deep.raw, deepLeaf)
        }
      }))

    it.effect("the error an Invalid keeps is cut short when the schema's error is long", () =>
      Effect.gen(function*() {
        const seen: Array<HostileMessage> = []
        const client = yield* Testing.connectTo(recorder(seen, { onInvalid: "deliver" }), "/")
        // Effect 4's formatter leaves out the value received (a 10,000-character string made the error
        // long on Effect 3) but writes the path: a 10,000-character key makes it long
        const long = { type: "counts", counts: { ["x".repeat(10_000)]: "not a number" } }
        yield* client.sendText(JSON.stringify(long))
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: JSON.stringify("Invalid") })
        const invalid = seen[0]
        const full = Schema.decodeUnknownResult(HostileIncoming)(long)
        assert.isTrue(Result.isFailure(full))
        if (invalid._tag === "Invalid" && Result.isFailure(full)) {
          const formatted = SchemaIssue.makeFormatterDefault()(full.failure.issue)
          assert.isAbove(formatted.length, 10_000)
          assert.isAtMost(invalid.error.length, 1100)
          assert.strictEqual(invalid.error.slice(0, 500), formatted.slice(0, 500))
        } else assert.fail("expected an Invalid message")
      }))

    it.effect("an error too deep for the formatter closes with 1007, or is Invalid with a fixed sentence", () => {
      // On Effect 4 whether a deep frame overflows while decoding or while formatting depends on the
      // stack left; a schema that fails with a deep issue reaches the formatter's limit every time.
      const deepIssue = () => {
        let issue: SchemaIssue.Issue = new SchemaIssue.MissingKey(undefined)
        for (let i = 0; i < 100_000; i++) issue = new SchemaIssue.Pointer([i % 10], issue)
        return issue
      }
      const Refusing = Protocol.json({
        incoming: Schema.String.pipe(Schema.decodeTo(
          Schema.String,
          SchemaTransformation.transformEffect({
            decode: (text) => text === "deep" ? Effect.fail(deepIssue()) : Effect.succeed(text),
            encode: Effect.succeed
          })
        )),
        outgoing: Schema.String
      })
      const route = (seen: Array<Protocol.Message<string>>, options?: Protocol.Options) =>
        Protocol.upgradeWebSocket(Refusing, {
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: (state, message, connection) =>
            Effect.gen(function*() {
              seen.push(message)
              if (message._tag !== "ConnectionClosed") yield* Effect.orDie(Protocol.send(connection, message._tag))
              return Action.continueConnection(state)
            }),
          onClose: () => Effect.void
        }, { heartbeat: false, idleTimeout: false, ...options })
      const lines: Array<LogLine> = []
      return Effect.gen(function*() {
        const closing = yield* Testing.connectTo(route([]), "/")
        yield* closing.sendText(JSON.stringify("deep"))
        assert.deepStrictEqual(yield* closing.closed, { code: 1007, reason: "invalid message" })
        yield* closing.closeInfo
        assert.deepStrictEqual(warnings(lines), [])

        const seen: Array<Protocol.Message<string>> = []
        const delivering = Testing.typed(Refusing, yield* Testing.connectTo(route(seen, { onInvalid: "deliver" }), "/"))
        yield* delivering.send("deep")
        assert.strictEqual(yield* delivering.receive, "Invalid")
        yield* delivering.send("shallow")
        assert.strictEqual(yield* delivering.receive, "Decoded")
        assert.deepStrictEqual(seen, [
          {
            _tag: "Invalid",
            error: "the value does not decode, and is nested too deeply to describe",
            raw: JSON.stringify("deep")
          },
          { _tag: "Decoded", value: "shallow" }
        ])
      }).pipe(Effect.provide(recordLogs(lines)), Effect.provideService(References.MinimumLogLevel, "Debug"))
    })

    it.effect("a value deeper than the schema can decode closes with 1007; a shallower one decodes", () =>
      Effect.gen(function*() {
        const frame = (depth: number) => `{"type":"tree","tree":${nested(depth)}}`
        const seen: Array<HostileMessage> = []
        const client = Testing.typed(Hostile, yield* Testing.connectTo(recorder(seen), "/"))
        yield* client.client.sendText(frame(200))
        assert.strictEqual(yield* client.receive, "Decoded")
        assert.strictEqual(JSON.stringify(seen[0]._tag === "Decoded" ? seen[0].value : null), frame(200))
        yield* client.client.sendText(frame(8_000))
        assert.deepStrictEqual(yield* client.client.closed, { code: 1007, reason: "invalid message" })

        const delivered: Array<HostileMessage> = []
        const lenient = Testing.typed(
          Hostile,
          yield* Testing.connectTo(recorder(delivered, { onInvalid: "deliver" }), "/")
        )
        yield* lenient.client.sendText(frame(8_000))
        assert.strictEqual(yield* lenient.receive, "Invalid")
        const invalid = delivered[0]
        assert.include(invalid._tag === "Invalid" ? invalid.error : "", "nested too deeply")
      }))

    it.effect("a deep value the schema takes as it is decodes; sending one too deep for JSON is an EncodeError", () =>
      Effect.gen(function*() {
        const seen: Array<HostileMessage> = []
        const deep = `{"type":"meta","data":{"deep":${nested(100_000)}}}`
        const client = yield* Testing.connectTo(recorder(seen, { maxMessageSize: 1024 * 1024 }), "/")
        yield* client.sendText(deep)
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: JSON.stringify("Decoded") })
        assert.strictEqual(seen[0]._tag, "Decoded")

        const echo = yield* Testing.connectTo(sender, "/")
        yield* echo.sendText(JSON.stringify("a value nested too deeply for JSON.stringify"))
        const answer = yield* echo.receive
        assert.isTrue(answer._tag === "Text" && answer.text.startsWith("EncodeError: "))
      }))
  })

  describe("prototype keys", () => {
    const refused: ReadonlyArray<readonly [string, string]> = [
      ["a __proto__ key in a Schema.Record", `{"type":"meta","data":{"__proto__":{"isAdmin":"yes"},"x":1}}`],
      ["a __proto__ key written with escapes", `{"type":"meta","data":{"\\u005f\\u005fproto__":{"isAdmin":"yes"}}}`],
      [
        "a __proto__ key with some letters escaped",
        `{"type":"meta","data":{"_\\u005Fpr\\u006fto__":{"isAdmin":"yes"}}}`
      ],
      ["a __proto__ key among a Struct's extra keys", `{"type":"extra","__proto__":{"isAdmin":"yes"},"x":1}`],
      ["a __proto__ key at the top", `{"__proto__":{"polluted":1},"type":"sum","values":[]}`],
      [
        "a __proto__ key inside arrays and objects",
        `{"type":"meta","data":{"list":[1,{"deeper":[[{"__proto__":{"isAdmin":"yes"}}]]}]}}`
      ],
      ["a constructor with a prototype", `{"type":"meta","data":{"constructor":{"prototype":{"isAdmin":"yes"}}}}`],
      [
        "a constructor with a prototype, escaped",
        `{"type":"meta","data":{"x":[{"\\u0063onstructor":{"prototyp\\u0065":{"isAdmin":"yes"}}}]}}`
      ]
    ]
    for (const [what, frame] of refused) {
      it.effect(`${what} closes with 1007, or is Invalid with onInvalid: deliver`, () =>
        Effect.gen(function*() {
          const closing = yield* Testing.connectTo(recorder([]), "/")
          yield* closing.sendText(frame)
          assert.deepStrictEqual(yield* closing.closed, { code: 1007, reason: "invalid message" })

          const seen: Array<HostileMessage> = []
          const delivering = Testing.typed(
            Hostile,
            yield* Testing.connectTo(recorder(seen, { onInvalid: "deliver" }), "/")
          )
          yield* delivering.client.sendText(frame)
          assert.strictEqual(yield* delivering.receive, "Invalid")
          const invalid = seen[0]
          assert.include(
            invalid._tag === "Invalid" ? invalid.error : "",
            frame.includes("onstructor") ? "constructor" : "__proto__"
          )
          assert.isFalse(pollutedPrototype())
        }))
    }

    it.effect("a key __proto__ at the bottom of a very deep value is refused without overflowing", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connectTo(recorder([], { maxMessageSize: 1024 * 1024 }), "/")
        yield* client.sendText(`{"type":"meta","data":{"x":${nested(100_000, `{"__proto__":{"isAdmin":"yes"}}`)}}}`)
        assert.deepStrictEqual(yield* client.closed, { code: 1007, reason: "invalid message" })
      }))

    it.effect("names that only look alike decode as sent", () =>
      Effect.gen(function*() {
        const seen: Array<HostileMessage> = []
        const client = Testing.typed(Hostile, yield* Testing.connectTo(recorder(seen), "/"))
        const data = {
          text: "__proto__ and constructor are words",
          constructor: "a string",
          proto: { prototype: 1 },
          nested: [{ constructor: { name: "no prototype" } }, { constructor: null }],
          "caf\u00e9": 1
        }
        yield* client.client.sendText(JSON.stringify({ type: "meta", data }))
        // escaped as a client that writes ASCII only would
        yield* client.client.sendText(`{"type":"meta","data":{"caf\\u00e9":1}}`)
        assert.strictEqual(yield* client.receive, "Decoded")
        assert.strictEqual(yield* client.receive, "Decoded")
        assert.deepStrictEqual(seen[0], { _tag: "Decoded", value: { type: "meta", data } })
        assert.deepStrictEqual(seen[1], { _tag: "Decoded", value: { type: "meta", data: { "caf\u00e9": 1 } } })
      }))
  })

  describe("values JSON cannot carry", () => {
    for (const [what] of unsendable) {
      it.effect(`Protocol.send of ${what} fails with EncodeError and sends nothing`, () =>
        Effect.gen(function*() {
          const client = yield* Testing.connectTo(sender, "/")
          yield* client.sendText(JSON.stringify(what))
          const answer = yield* client.receive
          assert.isTrue(answer._tag === "Text" && answer.text.startsWith("EncodeError: "), JSON.stringify(answer))
          yield* client.sendText(JSON.stringify("sendable"))
          assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: JSON.stringify(sendable) })
        }))
    }

    it.effect("nulls, the string \"null\" and properties left out still go as JSON writes them", () =>
      Effect.gen(function*() {
        const client = Testing.typed(Sender, yield* Testing.connectTo(sender, "/"))
        yield* client.send("sendable")
        assert.deepStrictEqual(yield* client.receive, {
          count: 0,
          items: [null, "null", { nothing: null }, [null], 0, 1e308]
        })
      }))

    it.effect("Protocol.publish of a non-finite number fails with EncodeError", () =>
      Effect.gen(function*() {
        const refused = yield* Effect.flip(Protocol.publish(Sender, "news", { count: Infinity, items: [] }))
        assert.strictEqual(refused._tag, "EncodeError")
        const nested = yield* Effect.flip(Protocol.publish(Sender, "news", { count: 1, items: [[NaN]] }))
        assert.strictEqual(nested._tag, "EncodeError")
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("a value deeper than the outgoing schema can encode fails with EncodeError, not a defect", () =>
      Effect.gen(function*() {
        const Trees = Protocol.json({ incoming: Schema.String, outgoing: Nest })
        const refused = yield* Effect.flip(Protocol.publish(Trees, "news", deepValue(100_000) as Nest))
        assert.include(refused._tag === "EncodeError" ? refused.error : "", "nested too deeply")
      }).pipe(Effect.provide(Broadcast.layer())))

    it.effect("the test kit's typed send of a non-finite number fails with EncodeError", () =>
      Effect.gen(function*() {
        const Reverse = Protocol.json({ incoming: Values, outgoing: Schema.String })
        const client = Testing.typed(Reverse, yield* Testing.connectTo(chat(), "/"))
        const error = yield* Effect.flip(client.send({ count: NaN, items: [] }))
        assert.strictEqual(error._tag, "EncodeError")
        // had anything gone out, the chat route would have closed on a frame of the wrong shape
        yield* client.client.sendText(JSON.stringify({ type: "say", text: "next" }))
        assert.deepStrictEqual(yield* client.client.receive, { _tag: "Text", text: JSON.stringify(said("next", 1)) })
      }))
  })

  describe("binary", () => {
    // a length-prefixed string: one byte of length, then UTF-8
    const Prefixed = Schema.Uint8Array.pipe(Schema.decodeTo(
      Schema.String,
      SchemaTransformation.transformEffect({
        decode: (bytes, options) =>
          bytes.length >= 1 && bytes[0] === bytes.length - 1
            ? Effect.succeed(new TextDecoder().decode(bytes.subarray(1)))
            : Effect.fail(new SchemaIssue.InvalidValue({ message: "bad length prefix" }, bytes, options)),
        encode: (text) => {
          const body = new TextEncoder().encode(text)
          return Effect.succeed(new Uint8Array([body.length, ...body]))
        }
      })
    ))
    const Shout = Protocol.binary({ incoming: Prefixed, outgoing: Prefixed })
    const shout = Protocol.upgradeWebSocket(Shout, {
      onInit: () => Effect.succeed(Upgrade.initial(null)),
      onMessage: (state, message, connection) =>
        message._tag === "Decoded"
          ? Effect.as(Protocol.send(connection, message.value.toUpperCase()), Action.continueConnection(state))
          : Effect.succeed(Action.continueConnection(state)),
      onClose: () => Effect.void
    })

    it.effect("decodes and encodes bytes with the app's format; text frames close with 1003", () =>
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

  describe("dual", () => {
    it.effect("send and publish read data-first and data-last", () =>
      Effect.gen(function*() {
        const route = Protocol.upgradeWebSocket(Chat, {
          onInit: (connection) =>
            Effect.gen(function*() {
              yield* connection.pipe(Protocol.send({ type: "said", text: "data-last", count: 1 }))
              yield* Broadcast.subscribe(connection, "room")
              return Upgrade.initial(null)
            }),
          onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
          onClose: () => Effect.void
        }, { heartbeat: false })
        const client = Testing.typed(Chat, yield* Testing.connectTo(route, "/"))
        assert.deepStrictEqual(yield* client.receive, said("data-last", 1))
        yield* Protocol.publish("room", { type: "said", text: "to the room", count: 2 })(Chat)
        // @ts-expect-error: not an outgoing message of Chat
        Protocol.publish("room", { type: "say", text: "wrong" })(Chat)
        assert.deepStrictEqual(yield* client.receive, said("to the room", 2))
        yield* Protocol.publish(Chat, "room", { type: "said", text: "data-first", count: 3 })
        assert.deepStrictEqual(yield* client.receive, said("data-first", 3))
      }).pipe(Effect.provide(Broadcast.layer())))
  })

  describe("types", () => {
    it("onInvalid close (the default): onMessage never sees Invalid; deliver: it may", () => {
      type In = Schema.Schema.Type<typeof Incoming>
      Protocol.upgradeWebSocket(Chat, {
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state, message) => {
          expectTypeOf(message).toEqualTypeOf<Protocol.Valid<In>>()
          // @ts-expect-error: Invalid never reaches a route that closes on it
          if (message._tag === "Invalid") return Effect.succeed(Action.continueConnection(state))
          return Effect.succeed(Action.continueConnection(state))
        },
        onClose: () => Effect.void
      })
      Protocol.upgradeWebSocket(Chat, {
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state, message) => {
          expectTypeOf(message).toEqualTypeOf<Protocol.Message<In>>()
          return Effect.succeed(Action.continueConnection(state))
        },
        onClose: () => Effect.void
      }, { onInvalid: "deliver" })
    })

    it("send takes no plain connection", () => {
      const plain = {} as Connection.Connection
      // @ts-expect-error: a plain connection has no protocol
      Protocol.send(plain, { type: "said", text: "x", count: 1 })
    })

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
      type Out = Schema.Schema.Type<typeof Outgoing>
      const typedSend = (connection: Protocol.Connection<Out>, value: Out) => Protocol.send(connection, value)
      expectTypeOf(typedSend).returns.toEqualTypeOf<
        Effect.Effect<void, Connection.SendError | Protocol.EncodeError>
      >()
    })
  })
})
