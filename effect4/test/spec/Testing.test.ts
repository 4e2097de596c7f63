import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Ref, Schedule, Schema, Scope, Stream } from "effect"
import { Action, Connection, Protocol, Testing, Upgrade } from "effect-websocket"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { sleepers } from "../support/clock.js"
import { echo } from "../support/echo.js"

/** No heartbeat or idle timers, so the only sleeper is the handler under test. */
const quiet = { upgrade: { heartbeat: false, idleTimeout: false } } as const

describe("Testing", () => {
  describe("connectTo", () => {
    const Routes = HttpRouter.add(
      "GET",
      "/secure",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        if (request.headers["authorization"] !== "Bearer token") return HttpServerResponse.empty({ status: 401 })
        return yield* Upgrade.upgradeWebSocket(echo())
      })
    )
    /** The router as an app, built in the test's scope. */
    const router = HttpRouter.toHttpEffect(Routes)

    it.effect("runs the route with the request's headers and upgrades", () =>
      Effect.gen(function*() {
        const app = yield* router
        const client = yield* Testing.connectTo(app, "/secure", { headers: { authorization: "Bearer token" } })
        yield* client.sendText("in")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "in" })
      }))

    it.effect("fails with Rejected and the response when the route does not upgrade", () =>
      Effect.gen(function*() {
        const app = yield* router
        const error = yield* Effect.flip(Testing.connectTo(app, "/secure"))
        assert.strictEqual(error._tag, "TestClientError")
        if (error._tag === "TestClientError") {
          assert.strictEqual(error.reason, "Rejected")
          assert.strictEqual(error.response?.status, 401)
          assert.include(error.message, "401")
        }
      }))

    it.effect("sends no Origin, as a client that is not a browser; an origin header meets the route's check", () =>
      Effect.gen(function*() {
        const route = yield* HttpRouter.toHttpEffect(HttpRouter.add("GET", "/ws", Upgrade.upgradeWebSocket(echo())))
        const plain = yield* Testing.connectTo(route, "/ws")
        yield* plain.sendText("no origin")
        assert.deepStrictEqual(yield* plain.receive, { _tag: "Text", text: "no origin" })
        const sameOrigin = yield* Testing.connectTo(route, "/ws", { headers: { origin: "http://localhost" } })
        yield* sameOrigin.sendText("same origin")
        assert.deepStrictEqual(yield* sameOrigin.receive, { _tag: "Text", text: "same origin" })
        const error = yield* Effect.flip(
          Testing.connectTo(route, "/ws", { headers: { origin: "https://evil.example" } })
        )
        assert.strictEqual(error._tag === "TestClientError" ? error.response?.status : error._tag, 403)
      }))

    it.effect("fails with the app's own error for an unknown route", () =>
      Effect.gen(function*() {
        const app = yield* router
        const error = yield* Effect.flip(Testing.connectTo(app, "/nowhere"))
        // Effect 4's router fails with an HttpServerError whose reason is RouteNotFound
        assert.strictEqual(error._tag, "HttpServerError")
        assert.strictEqual(error._tag === "HttpServerError" ? error.reason._tag : error._tag, "RouteNotFound")
      }))
  })

  describe("TestClient", () => {
    it.effect("receive fails with Closed once the connection closed and every frame was read", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo({ stopOn: "stop" }))
        yield* client.sendText("a")
        yield* client.sendText("stop")
        assert.deepStrictEqual(yield* client.closed, { code: 1000, reason: "" })
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "a" })
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "stop" })
        const error = yield* Effect.flip(client.receive)
        assert.strictEqual(error.reason, "Closed")
        assert.deepStrictEqual(error.closed, { code: 1000, reason: "" })
        assert.include(error.message, "1000")
      }))

    it.effect("sending or closing after close fails with Closed, dropping is harmless", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo())
        yield* client.close(4000, "done")
        assert.strictEqual((yield* Effect.flip(client.sendText("late"))).reason, "Closed")
        assert.strictEqual((yield* Effect.flip(client.sendBinary(new Uint8Array(1)))).reason, "Closed")
        const again = yield* Effect.flip(client.close())
        assert.strictEqual(again._tag === "TestClientError" && again.reason, "Closed")
        yield* client.drop
        assert.deepStrictEqual(yield* client.closeInfo, { code: 4000, reason: "done", initiator: "peer" })
      }))

    it.effect("close validates the code and reason like stopConnectionWith", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo())
        const error = yield* Effect.flip(client.close(1006))
        assert.strictEqual(error._tag, "CloseError")
        yield* client.sendText("still open")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "still open" })
      }))

    it.effect("receive fails with NoFrame, not a hang, when nothing comes", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo(), { receiveTimeout: "50 millis" })
        const error = yield* Effect.flip(client.receive)
        assert.strictEqual(error.reason, "NoFrame")
      }))

    it.effect("frames collects everything until the connection closes", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo({ binary: "echo", stopOn: "stop" }))
        yield* client.sendText("x")
        yield* client.sendBinary(new Uint8Array([7]))
        yield* client.sendText("stop")
        const frames = yield* Stream.runCollect(client.frames)
        assert.deepStrictEqual([...frames], [
          { _tag: "Text", text: "x" },
          { _tag: "Binary", data: new Uint8Array([7]) },
          { _tag: "Text", text: "stop" }
        ])
      }))

    it.effect("drop is a lost connection for the server: 1006", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo())
        yield* client.drop
        assert.deepStrictEqual(yield* client.closed, { code: 1006, reason: "" })
        assert.deepStrictEqual(yield* client.closeInfo, { code: 1006, reason: "", initiator: "peer" })
      }))

    it.effect("applies maxMessageSize like the Node transport: 1009, the handler never sees the message", () =>
      Effect.gen(function*() {
        const seen = yield* Ref.make(0)
        const client = yield* Testing.connect({
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: (state) => Effect.as(Ref.update(seen, (n) => n + 1), Action.continueConnection(state)),
          onClose: () => Effect.void
        }, { upgrade: { maxMessageSize: 16 * 1024, ...quiet.upgrade } })
        yield* client.sendText("é".repeat(8 * 1024)) // 16 KiB of UTF-8: just fits
        yield* client.sendText("x".repeat(20_000))
        const closed = yield* client.closed
        assert.deepStrictEqual(closed, { code: 1009, reason: "" })
        const info = yield* client.closeInfo
        assert.deepStrictEqual(
          info,
          { code: 1009, reason: closed.reason, initiator: "error" },
          "onClose saw the wire's close"
        )
        assert.strictEqual(yield* Ref.get(seen), 1)
      }))

    it.effect("closed and closeInfo fail with NotClosed after receiveTimeout instead of hanging", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo(), { receiveTimeout: "50 millis", ...quiet })
        const closed = yield* Effect.flip(client.closed)
        assert.strictEqual(closed.reason, "NotClosed")
        const info = yield* Effect.flip(client.closeInfo)
        assert.strictEqual(info.reason, "NotClosed")
      }))

    it.effect("expectNoFrame succeeds when nothing arrives, and fails with the frame when one does", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo(), quiet)
        yield* client.expectNoFrame("30 millis")
        yield* client.sendText("surprise")
        const error = yield* Effect.flip(client.expectNoFrame("1 second"))
        assert.strictEqual(error.reason, "UnexpectedFrame")
        assert.deepStrictEqual(error.frame, { _tag: "Text", text: "surprise" })
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "surprise" }, "the frame is still there")
      }))

    it.effect("closing the client's scope shuts the server side down with 1001", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const client = yield* Testing.connect(echo()).pipe(Scope.provide(scope))
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(yield* client.closed, { code: 1001, reason: "server shutting down" })
        assert.strictEqual((yield* client.closeInfo).initiator, "shutdown")
      }))

    it.effect("connect fails with OptionsError for invalid upgrade options", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Testing.connect(echo(), { upgrade: { maxMessageSize: 0 } }))
        assert.strictEqual(error._tag, "OptionsError")
      }))
  })

  describe("receiveUntil", () => {
    it.effect("reads frames until one matches and returns it; what came before is dropped", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo(), quiet)
        for (const text of ["noise", "more noise", "wanted", "after"]) yield* client.sendText(text)
        const wanted = yield* client.receiveUntil((frame): frame is Testing.Frame & { _tag: "Text" } =>
          frame._tag === "Text" && frame.text === "wanted"
        )
        assert.strictEqual(wanted.text, "wanted")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "after" })
      }))

    it.effect("fails with Closed when the connection closes before a match", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect(echo({ stopOn: "bye" }), quiet)
        yield* client.sendText("bye")
        const error = yield* Effect.flip(client.receiveUntil((frame) => frame._tag === "Binary"))
        assert.strictEqual(error.reason, "Closed")
      }))

    it.effect("on a typed client: decoded messages until one matches; closed and closeInfo are there too", () =>
      Effect.gen(function*() {
        const Chat = Protocol.json({
          incoming: Schema.String,
          outgoing: Schema.Struct({ type: Schema.Literals(["joined", "said"]), text: Schema.String })
        })
        const route = Protocol.upgradeWebSocket(Chat, {
          onInit: (connection) =>
            Effect.as(Protocol.send(connection, { type: "joined", text: "alice" }), Upgrade.initial(null)),
          onMessage: (state, message, connection) =>
            message._tag === "Decoded"
              ? Effect.as(
                Effect.orDie(Protocol.send(connection, { type: "said", text: message.value })),
                message.value === "bye" ? Action.stopConnection() : Action.continueConnection(state)
              )
              : Effect.succeed(Action.continueConnection(state)),
          onClose: () => Effect.void
        }, { heartbeat: false })
        const client = Testing.typed(Chat, yield* Testing.connectTo(route, "/"))
        yield* client.send("one")
        yield* client.send("two")
        const said = yield* client.receiveUntil((message) => message.type === "said" && message.text === "two")
        assert.deepStrictEqual(said, { type: "said", text: "two" })
        yield* client.send("bye")
        assert.deepStrictEqual(yield* client.closed, { code: 1000, reason: "" })
        assert.deepStrictEqual(yield* client.closeInfo, { code: 1000, reason: "", initiator: "server" })
      }))
  })

  describe("TestClock", () => {
    it.effect("drives a handler's Effect.sleep", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect({
          onInit: () => Effect.succeed(Upgrade.initial(null)),
          onMessage: (state, _message, connection) =>
            Effect.as(
              Effect.andThen(Effect.sleep("10 seconds"), Connection.sendText(connection, "after 10s")),
              Action.continueConnection(state)
            ),
          onClose: () => Effect.void
        }, quiet)
        yield* client.sendText("go")
        const waiting = yield* Effect.forkChild(client.receive)
        yield* sleepers(1)
        yield* TestClock.adjust("9 seconds")
        assert.isUndefined(waiting.pollUnsafe())
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* Fiber.join(waiting), { _tag: "Text", text: "after 10s" })
      }))

    it.effect("drives a Stream.tick selector", () =>
      Effect.gen(function*() {
        const client = yield* Testing.connect({
          onInit: () => Effect.succeed(Upgrade.initialWithSelector(0, Stream.tick("1 second"))),
          onMessage: (ticks, message, connection) =>
            message._tag === "CustomMessage"
              ? Effect.as(Connection.sendText(connection, `tick ${ticks}`), Action.continueConnection(ticks + 1))
              : Effect.succeed(Action.continueConnection(ticks)),
          onClose: () => Effect.void
        })
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "tick 0" })
        yield* TestClock.adjust("3 seconds")
        const frames = yield* client.frames.pipe(Stream.take(3), Stream.runCollect)
        assert.deepStrictEqual([...frames].map((frame) => frame._tag === "Text" && frame.text), [
          "tick 1",
          "tick 2",
          "tick 3"
        ])
      }))

    it.effect("drives a Schedule: a retried call inside a handler", () =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        const flaky = Effect.flatMap(Ref.updateAndGet(attempts, (n) => n + 1), (n) =>
          n < 3 ? Effect.fail("busy") : Effect.succeed(n))
        const client = yield* Testing.connect({
          onInit: () =>
            Effect.succeed(Upgrade.initial(null)),
          onMessage: (state, _message, connection) =>
            flaky.pipe(
              Effect.retry(Schedule.spaced("5 seconds")),
              Effect.flatMap((n) => Connection.sendText(connection, `ok after ${n} attempts`)),
              Effect.as(Action.continueConnection(state))
            ),
          onClose: () => Effect.void
        }, quiet)
        yield* client.sendText("go")
        yield* sleepers(1)
        yield* TestClock.adjust("10 seconds")
        assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "ok after 3 attempts" })
      }))
  })
})
