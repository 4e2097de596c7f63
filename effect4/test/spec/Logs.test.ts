// What the library logs: a handler failure is one error line with its cause; protocol violations and
// timeouts are info lines with the close code and reason; nothing is logged per message.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, References, Stream } from "effect"
import { Action, Connection, type Message, Testing, Upgrade } from "effect-websocket"
import { HttpRouter } from "effect/http"
import { TestClock } from "effect/testing"
import { type LogLine, recordLogs } from "../support/logs.js"

const route = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
    message._tag === "TextMessage" && message.text === "fail"
      ? Effect.fail("boom")
      : Effect.as(Effect.orDie(Connection.sendText(connection, "ok")), Action.continueConnection(state)),
  onClose: () => Effect.void
}, { heartbeat: false, idleTimeout: "10 seconds", maxMessageSize: 16 })

describe("logs", () => {
  it.effect("a handler failure is one error line; messages log nothing", () => {
    const lines: Array<LogLine> = []
    return Effect.gen(function*() {
      const client = yield* Testing.connectTo(route, "/")
      for (let i = 0; i < 5; i++) {
        yield* client.sendText("hi")
        yield* client.receive
      }
      assert.deepStrictEqual(lines, [], "nothing per message, even at debug level")
      yield* client.sendText("fail")
      assert.strictEqual((yield* client.closed).code, 1011)
      assert.deepStrictEqual(lines.map((line) => line.label), ["ERROR"])
      assert.include(lines[0].message, "handler failed")
    }).pipe(Effect.provide(recordLogs(lines)), Effect.provideService(References.MinimumLogLevel, "Debug"))
  })

  it.effect("protocol violations and timeouts are info lines with the close code and reason", () => {
    const lines: Array<LogLine> = []
    return Effect.gen(function*() {
      const big = yield* Testing.connectTo(route, "/")
      yield* big.sendText("far more than sixteen bytes")
      assert.strictEqual((yield* big.closed).code, 1009)
      const idle = yield* Testing.connectTo(route, "/")
      yield* TestClock.adjust("11 seconds")
      assert.strictEqual((yield* idle.closed).code, 1001)
      assert.deepStrictEqual(
        lines.map((
          line
        ) => [line.label, line.annotations["websocket.closeCode"], line.annotations["websocket.closeReason"]]),
        [["INFO", 1009, ""], ["INFO", 1001, "idle timeout"]]
      )
    }).pipe(Effect.provide(recordLogs(lines)), Effect.provideService(References.MinimumLogLevel, "Debug"))
  })

  it.effect("every line inside a connection names it and its route: the handlers' own, the selector's and the library's", () => {
    const lines: Array<LogLine> = []
    const ids: Array<string> = []
    const room = Upgrade.upgradeWebSocket({
      onInit: (connection) =>
        Effect.gen(function*() {
          ids.push(connection.id)
          yield* Effect.log("init")
          const selector = Stream.fromEffect(Effect.as(Effect.log("selector"), "tick"))
          return [null, Option.some(selector)] as const
        }),
      onMessage: (state: null, message: Message.Message<string>, connection: Connection.Connection) =>
        Effect.gen(function*() {
          if (message._tag === "TextMessage" && message.text === "fail") return yield* Effect.fail("boom")
          yield* Effect.log(`message ${message._tag}`)
          if (message._tag === "CustomMessage") yield* Effect.orDie(Connection.sendText(connection, message.value))
          return Action.continueConnection(state)
        }),
      onClose: () => Effect.log("close")
    }, { heartbeat: false, idleTimeout: false, maxMessageSize: 16 })
    const routes = HttpRouter.add("GET", "/rooms/:room", room)
    return Effect.gen(function*() {
      const app = yield* HttpRouter.toHttpEffect(routes)
      const first = yield* Testing.connectTo(app, "/rooms/lobby")
      const second = yield* Testing.connectTo(app, "/rooms/attic")
      // the selector's value has gone through the loop
      yield* first.receive
      yield* second.receive
      yield* first.sendText("hello")
      yield* first.sendText("fail")
      assert.strictEqual((yield* first.closed).code, 1011)
      yield* second.sendText("far more than sixteen bytes")
      assert.strictEqual((yield* second.closed).code, 1009)
      for (let i = 0; i < 100 && lines.filter((line) => line.message === "close").length < 2; i++) {
        yield* Effect.yieldNow
      }
      const of = (id: string) =>
        lines.filter((line) => line.annotations["websocket.connection"] === id).map((line) => line.message)
      assert.deepStrictEqual(
        of(ids[0]).map((message) => message.split(" ").slice(0, 3).join(" ")),
        [
          "init",
          "selector",
          "message CustomMessage",
          "message TextMessage",
          "effect-websocket: handler failed,",
          "close"
        ]
      )
      assert.deepStrictEqual(of(ids[1]).slice(0, 3), ["init", "selector", "message CustomMessage"])
      assert.includeMembers(of(ids[1]), ["effect-websocket: closing with 1009", "close"])
      assert.strictEqual(lines.length, of(ids[0]).length + of(ids[1]).length, "every line names its connection")
      assert.isTrue(lines.every((line) => line.annotations["websocket.route"] === "/rooms/:room"))
    }).pipe(Effect.provide(recordLogs(lines)), Effect.provideService(References.MinimumLogLevel, "Debug"))
  })
})
