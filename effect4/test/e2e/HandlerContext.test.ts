// What the handlers' context holds, now that a connection keeps the route's services (shared) plus its
// own entries instead of the whole request context (internal/upgrade.ts, connectionContext): the
// request, its query and route params, a service provided per request by the controller, the app's
// layers' services, and the connection's own Scope; and two connections of one route each see theirs.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Scope } from "effect"
import { Action, Connection, Upgrade } from "effect-websocket"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { requestStateKey } from "../../src/internal/compat/effect.js"
import { openWs } from "../support/client.js"
import { serve } from "../support/server.js"

class UserName extends Context.Service<UserName, string>()("test/UserName") {}
class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}

const seenBy = Upgrade.upgradeWebSocket({
  onInit: (connection) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const query = yield* HttpServerRequest.ParsedSearchParams
      const params = yield* HttpRouter.params
      const user = yield* UserName
      const greeting = yield* Greeting
      // the connection's own Scope: a finalizer added here runs when the connection ends
      yield* Scope.Scope
      // not kept: the platform's state of the upgrade request (it holds the request's whole context)
      const requestState = (yield* Effect.context<never>()).mapUnsafe.has(requestStateKey)
      yield* Connection.sendText(
        connection,
        JSON.stringify({ url: request.url, query: query.user, room: params.room, user, greeting, requestState })
      )
      return Upgrade.initial(null)
    }),
  onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
})

// the controller reads the query and provides the user per request, as examples/echo-chat.ts does
const controller = Effect.gen(function*() {
  const query = yield* HttpServerRequest.ParsedSearchParams
  return yield* seenBy.pipe(Effect.provideService(UserName, String(query.user)))
})

const routes = HttpRouter.add(
  "GET",
  "/rooms/:room",
  controller.pipe(Effect.provide(Layer.succeed(Greeting, "hello from a layer")))
)

describe("the handlers' context", () => {
  it.live("holds the request, its query and params, per-request and layer services, for each connection", () =>
    Effect.gen(function*() {
      const server = yield* serve(routes)
      const ann = yield* openWs(`ws://127.0.0.1:${server.port}/rooms/red?user=ann`)
      const bob = yield* openWs(`ws://127.0.0.1:${server.port}/rooms/blue?user=bob`)
      const ann2 = yield* openWs(`ws://127.0.0.1:${server.port}/rooms/red?user=ann`)
      assert.deepStrictEqual(JSON.parse(yield* ann.next), {
        url: "/rooms/red?user=ann",
        query: "ann",
        room: "red",
        user: "ann",
        greeting: "hello from a layer",
        requestState: false
      })
      assert.deepStrictEqual(JSON.parse(yield* bob.next), {
        url: "/rooms/blue?user=bob",
        query: "bob",
        room: "blue",
        user: "bob",
        greeting: "hello from a layer",
        requestState: false
      })
      assert.strictEqual(JSON.parse(yield* ann2.next).user, "ann")
    }))
})
