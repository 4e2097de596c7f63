import { Context, Effect } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"
import { HttpRouter, HttpServerRequest } from "effect/http"

// Dream's `Dependencies(user_name)`: a service the handlers ask for, provided by the route.
export class UserName extends Context.Service<UserName, string>()("echo-chat/UserName") {}

export const chat = Upgrade.upgradeWebSocket({
  // The initial state is empty, and there is no selector yet.
  onInit: () => Effect.succeed(Upgrade.initial("")),
  onMessage: (state, message: Message.Message<never>, connection) =>
    Effect.gen(function*() {
      switch (message._tag) {
        case "TextMessage": {
          const user = yield* UserName
          // Like Dream's `let _ = websocket.send_text(...)`: a failed send is not fatal here.
          yield* Connection.sendText(connection, `${user}: ${message.text}`).pipe(Effect.ignore)
          return Action.continueConnection(state)
        }
        case "ConnectionClosed":
          return Action.stopConnection()
        default:
          return Action.continueConnection(state)
      }
    }),
  onClose: () => Effect.void
})

// The controller: read `?user=`, default "Anonymous", and hand it to the handlers as a dependency.
export const handleUpgrade = Effect.gen(function*() {
  const query = yield* HttpServerRequest.ParsedSearchParams
  const user = typeof query.user === "string" && query.user !== "" ? query.user : "Anonymous"
  return yield* chat.pipe(Effect.provideService(UserName, user))
})

// The route, a Layer of the app's HttpRouter: serve it with `HttpRouter.serve`, test it with `Testing.connectTo`.
export const EchoChatRoutes = HttpRouter.add("GET", "/chat", handleUpgrade)
