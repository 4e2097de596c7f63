// What the library logs: a handler failure is one error line with its cause; protocol violations and
// timeouts are info lines with the close code and reason; nothing is logged per message.
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

const route = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
    message._tag === "TextMessage" && message.text === "fail"
      ? Effect.fail("boom")
      : Effect.as(Effect.orDie(Connection.sendText(connection, "ok")), Action.continueConnection(state)),
  onClose: () => Effect.void
}, { heartbeat: false, idleTimeout: "10 seconds", maxMessageSize: 16 })

describe("logs", () => {
  it.scoped("a handler failure is one error line; messages log nothing", () => {
    const lines: Array<Line> = []
    return Effect.gen(function*() {
      const client = yield* Testing.connectTo(route, "/")
      for (let i = 0; i < 5; i++) {
        yield* client.sendText("hi")
        yield* client.receive
      }
      assert.deepStrictEqual(lines, [], "nothing per message, even at debug level")
      yield* client.sendText("fail")
      assert.strictEqual((yield* client.closed).code, 1011)
      assert.deepStrictEqual(lines.map((line) => line.level), ["ERROR"])
      assert.include(lines[0].message, "handler failed")
    }).pipe(Effect.provide(capture(lines)), Logger.withMinimumLogLevel(LogLevel.Debug))
  })

  it.scoped("protocol violations and timeouts are info lines with the close code and reason", () => {
    const lines: Array<Line> = []
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
        ) => [line.level, line.annotations["websocket.closeCode"], line.annotations["websocket.closeReason"]]),
        [["INFO", 1009, ""], ["INFO", 1001, "idle timeout"]]
      )
    }).pipe(Effect.provide(capture(lines)), Logger.withMinimumLogLevel(LogLevel.Debug))
  })
})
