// Spans: one per connection when a tracer is installed (attributes at the start and at the end, child
// of the upgrade request's span, parent of the handlers' own spans), one per message with
// `traceMessages`, and none with Effect's built-in tracer.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { Action, Connection, type Message, Testing, Upgrade } from "effect-websocket"
import { HttpRouter } from "effect/http"
import { type RecordedSpan, recorder } from "../support/tracer.js"

/** Lets the server side finish what it is doing (the end of a connection runs after the client saw it). */
const settle = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && !done(); i++) yield* Effect.yieldNow
    assert.isTrue(done(), "the server side finished")
  })

const ended = (span: RecordedSpan | undefined) => span?.status._tag === "Ended"

/**
 * Echoes text upper-cased and binary as is; `fail` fails the handler; each message runs a span of its own.
 * `app` builds the router (in the test's scope) and succeeds with it as an app.
 */
const echo = (options?: Upgrade.Options) => {
  const ids: Array<string> = []
  const route = Upgrade.upgradeWebSocket({
    onInit: (connection) =>
      Effect.sync(() => {
        ids.push(connection.id)
        return Upgrade.initial(null)
      }),
    onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
      Effect.gen(function*() {
        if (message._tag === "TextMessage") {
          if (message.text === "fail") return yield* Effect.fail("boom")
          yield* Effect.orDie(Connection.sendText(connection, message.text.toUpperCase())).pipe(
            Effect.withSpan("handler work")
          )
        } else if (message._tag === "BinaryMessage") {
          yield* Effect.orDie(Connection.sendBinary(connection, message.data))
        }
        return Action.continueConnection(state)
      }),
    onClose: () => Effect.void
  }, { heartbeat: false, idleTimeout: false, subprotocols: ["chat"], ...options })
  return { ids, app: HttpRouter.toHttpEffect(HttpRouter.add("GET", "/rooms/:room", route)) }
}

describe("tracing", () => {
  it.effect("a connection's span: what it is at the start, how it ended and what it carried at the end", () => {
    const { named, tracer } = recorder()
    const { app, ids } = echo()
    return Effect.gen(function*() {
      const client = yield* Testing.connectTo(yield* app, "/rooms/lobby", {
        headers: { "sec-websocket-protocol": "chat" },
        remoteAddress: "10.0.0.7"
      }).pipe(Effect.withSpan("upgrade request"))
      const [request] = named("upgrade request")
      const [span] = named("websocket.connection")
      assert.isDefined(span, "a span per connection")
      assert.strictEqual(span.parentId, request.spanId, "child of the upgrade request's span")
      assert.strictEqual(span.traceId, request.traceId)
      assert.strictEqual(span.kind, "server")
      assert.deepStrictEqual(Object.fromEntries(span.attributes), {
        "websocket.route": "/rooms/:room",
        "websocket.connection": ids[0],
        "client.address": "10.0.0.7",
        "websocket.protocol": "chat"
      })
      assert.isFalse(ended(span), "open while the connection is")

      yield* client.sendText("héllo") // 6 bytes in UTF-8
      yield* client.receive
      yield* client.sendBinary(new Uint8Array([1, 2, 3]))
      yield* client.receive
      yield* client.close(1000, "bye")
      yield* client.closed
      yield* settle(() => ended(span))
      assert.deepStrictEqual(Object.fromEntries(span.attributes), {
        "websocket.route": "/rooms/:room",
        "websocket.connection": ids[0],
        "client.address": "10.0.0.7",
        "websocket.protocol": "chat",
        "websocket.close.code": 1000,
        "websocket.close.reason": "bye",
        "websocket.close.initiator": "peer",
        "websocket.messages.received": 2,
        "websocket.messages.sent": 2,
        "websocket.bytes.received": 9,
        "websocket.bytes.sent": 9
      })
      assert.isTrue(Exit.isSuccess(span.exit!), "a clean close ends the span as a success")
    }).pipe(Effect.withTracer(tracer))
  })

  it.effect("a handler's own spans have the connection's span as parent", () => {
    const { named, tracer } = recorder()
    const { app } = echo()
    return Effect.gen(function*() {
      const client = yield* Testing.connectTo(yield* app, "/rooms/lobby")
      yield* client.sendText("one")
      yield* client.receive
      const [connection] = named("websocket.connection")
      assert.isFalse(connection.attributes.has("client.address"), "no address, no attribute")
      const [work] = named("handler work")
      assert.strictEqual(work.parentId, connection.spanId)
      assert.isTrue(ended(work))
      assert.deepStrictEqual(named("websocket.message"), [], "no span per message by default")
    }).pipe(Effect.withTracer(tracer))
  })

  it.effect("traceMessages: a span per handled message, child of the connection's, parent of the handler's", () => {
    const { named, tracer } = recorder()
    const { app } = echo({ traceMessages: true })
    return Effect.gen(function*() {
      const client = yield* Testing.connectTo(yield* app, "/rooms/lobby")
      yield* client.sendText("one")
      yield* client.receive
      yield* client.sendBinary(new Uint8Array([1]))
      yield* client.receive
      const [connection] = named("websocket.connection")
      const messages = named("websocket.message")
      assert.deepStrictEqual(messages.map((span) => span.attributes.get("websocket.message.kind")), ["text", "binary"])
      for (const message of messages) {
        assert.strictEqual(message.parentId, connection.spanId)
        assert.isTrue(ended(message))
      }
      assert.strictEqual(named("handler work")[0].parentId, messages[0].spanId)
    }).pipe(Effect.withTracer(tracer))
  })

  it.effect("a handler failure ends the span as a failure, with 1011", () => {
    const { named, tracer } = recorder()
    const { app } = echo()
    return Effect.gen(function*() {
      const client = yield* Testing.connectTo(yield* app, "/rooms/lobby")
      yield* client.sendText("fail")
      assert.strictEqual((yield* client.closed).code, 1011)
      const [span] = named("websocket.connection")
      yield* settle(() => ended(span))
      assert.strictEqual(span.attributes.get("websocket.close.code"), 1011)
      assert.strictEqual(span.attributes.get("websocket.close.initiator"), "error")
      assert.isTrue(Exit.isFailure(span.exit!))
    }).pipe(Effect.withTracer(tracer))
  })

  it.effect("with Effect's built-in tracer a connection makes no span: handlers see the request's as parent", () =>
    Effect.gen(function*() {
      const seen: Array<Option.Option<string>> = []
      const route = Upgrade.upgradeWebSocket({
        onInit: () =>
          Effect.map(
            Effect.option(Effect.currentParentSpan),
            (parent) => {
              seen.push(Option.map(parent, (span) => span.spanId))
              return Upgrade.initial(null)
            }
          ),
        onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
        onClose: () => Effect.void
      }, { heartbeat: false, idleTimeout: false })
      const request = yield* Effect.makeSpan("upgrade request")
      yield* Testing.connectTo(route, "/").pipe(Effect.withParentSpan(request))
      assert.deepStrictEqual(seen, [Option.some(request.spanId)])
    }))
})
