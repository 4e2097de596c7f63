// Handlers' requirements flow into the route's type: a missing dependency is a compile error
// (checked by `tsc` in `npm test`), and providing it with a Layer or provideService removes it.
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { type Acceptor, Action, Connection, Upgrade } from "effect-websocket"
import type { HttpServerRequest, HttpServerResponse } from "effect/http"
import { memory } from "../support/harness.js"

class UserName extends Context.Service<UserName, string>()("test/UserName") {}
class Audit
  extends Context.Service<Audit, { readonly record: (line: string) => Effect.Effect<void> }>()("test/Audit")
{}

const handlers = {
  onInit: () => Effect.succeed(Upgrade.initial(0)),
  onMessage: (count: number, _message: unknown, connection: Connection.Connection) =>
    Effect.gen(function*() {
      const user = yield* UserName
      yield* Connection.sendText(connection, `${user} #${count}`)
      return Action.continueConnection(count + 1)
    }),
  onClose: (count: number) => Effect.flatMap(Audit, (audit) => audit.record(`closed after ${count}`))
} satisfies Upgrade.Handlers<number, never, Connection.SendError, UserName | Audit>

type Route<R> = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | R
>

describe("Upgrade types", () => {
  it("puts every handler's requirement into the route's type", () => {
    const route = Upgrade.upgradeWebSocket(handlers)
    expectTypeOf(route).toEqualTypeOf<Route<UserName | Audit>>()

    // @ts-expect-error: UserName and Audit are still required
    const missingBoth: Route<never> = route
    // @ts-expect-error: Audit is still required
    const missingAudit: Route<never> = route.pipe(Effect.provideService(UserName, "ann"))
    const provided: Route<never> = route.pipe(
      Effect.provideService(UserName, "ann"),
      Effect.provide(Layer.succeed(Audit, { record: () => Effect.void }))
    )
    assert.isDefined(missingBoth)
    assert.isDefined(missingAudit)
    assert.isDefined(provided)
  })

  it("keeps the options error apart from the handlers' errors", () => {
    expectTypeOf(Upgrade.upgradeWebSocket(handlers, { maxMessageSize: 10 })).toEqualTypeOf<
      Effect.Effect<
        HttpServerResponse.HttpServerResponse,
        Upgrade.OptionsError,
        HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | UserName | Audit
      >
    >()
  })

  memory.test("runs with the dependencies the route provides", () =>
    Effect.gen(function*() {
      const audit: Array<string> = []
      const client = yield* memory.connect({
        onInit: () => Effect.succeed(Upgrade.initial(0)),
        onMessage: (count, message, connection) =>
          handlers.onMessage(count, message, connection).pipe(Effect.provideService(UserName, "ann")),
        onClose: (count) =>
          handlers.onClose(count).pipe(
            Effect.provideService(Audit, { record: (line) => Effect.sync(() => audit.push(line)) })
          )
      })
      yield* client.sendText("a")
      yield* client.sendText("b")
      assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "ann #0" })
      assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "ann #1" })
      yield* client.close(1000)
      yield* client.serverDone
      assert.deepStrictEqual(audit, ["closed after 2"])
    }))
})
