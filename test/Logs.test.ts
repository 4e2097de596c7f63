// Every log line inside a connection, the library's and the handlers' own, names the connection and
// its route (annotations, not prefixes); handler failures are errors, protocol violations and
// timeouts are info lines with the close code; nothing is logged per message.
import { HttpRouter } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, HashMap, Logger, LogLevel, TestClock } from "effect"
import { Action, Connection, type Message, Testing, Upgrade } from "effect-websocket"

interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

const capture = (lines: Array<Line>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, logLevel, message }) => {
      lines.push({
        level: logLevel.label,
        message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
  )

const chatty = Upgrade.upgradeWebSocket({
  onInit: (connection) => Effect.as(Effect.log(`hello ${connection.id}`), Upgrade.initial(null)),
  onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
    message._tag === "TextMessage" && message.text === "fail"
      ? Effect.fail("boom")
      : Effect.as(Effect.orDie(Connection.sendText(connection, "ok")), Action.continueConnection(state)),
  onClose: () => Effect.logWarning("bye")
}, { heartbeat: false, idleTimeout: "10 seconds", maxMessageSize: 16 })

const router = HttpRouter.empty.pipe(HttpRouter.get("/rooms/:room", chatty))

describe("logs", () => {
  it.scoped("a handler's own lines and the library's carry the connection id and the route", () => {
    const lines: Array<Line> = []
    return Effect.gen(function*() {
      const client = yield* Testing.connectTo(router, "/rooms/lobby")
      yield* client.sendText("hi")
      yield* client.receive
      yield* client.sendText("fail")
      assert.strictEqual((yield* client.closed).code, 1011)
      const hello = lines.find((line) => line.message.startsWith("hello "))!
      const id = hello.message.slice("hello ".length)
      for (const line of lines) {
        assert.strictEqual(line.annotations["websocket.connection"], id, line.message)
        assert.strictEqual(line.annotations["websocket.route"], "/rooms/:room", line.message)
      }
      const failure = lines.filter((line) => line.level === "ERROR")
      assert.strictEqual(failure.length, 1, "a handler failure is logged once")
      assert.include(failure[0].message, "handler failed")
      assert.deepStrictEqual(lines.map((line) => line.level), ["INFO", "ERROR", "WARN"], "nothing per message")
    }).pipe(Effect.provide(capture(lines)), Logger.withMinimumLogLevel(LogLevel.Debug))
  })

  it.scoped("protocol violations and timeouts are info lines with the close code", () => {
    const lines: Array<Line> = []
    return Effect.gen(function*() {
      const big = yield* Testing.connectTo(router, "/rooms/a")
      yield* big.sendText("far more than sixteen bytes")
      assert.strictEqual((yield* big.closed).code, 1009)
      const idle = yield* Testing.connectTo(router, "/rooms/b")
      yield* TestClock.adjust("11 seconds")
      assert.strictEqual((yield* idle.closed).code, 1001)
      const closing = lines.filter((line) => line.message.startsWith("effect-websocket: closing with"))
      assert.deepStrictEqual(
        closing.map((
          line
        ) => [line.level, line.annotations["websocket.closeCode"], line.annotations["websocket.closeReason"]]),
        [["INFO", 1009, ""], ["INFO", 1001, "idle timeout"]]
      )
      assert.isFalse(lines.some((line) => line.level === "ERROR"))
    }).pipe(Effect.provide(capture(lines)), Logger.withMinimumLogLevel(LogLevel.Debug))
  })
})
