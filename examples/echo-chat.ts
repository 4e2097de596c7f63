import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Context, Effect, Layer } from "effect"
import { Action, Connection, Message, Upgrade } from "effect-websocket"
import { createServer } from "node:http"

// Dream's `Dependencies(user_name)`: a service the handlers ask for, provided by the route.
class UserName extends Context.Tag("echo-chat/UserName")<UserName, string>() {}

const chat = Upgrade.upgradeWebSocket({
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
const handleUpgrade = Effect.gen(function*() {
  const query = yield* HttpServerRequest.ParsedSearchParams
  const user = typeof query.user === "string" && query.user !== "" ? query.user : "Anonymous"
  return yield* chat.pipe(Effect.provideService(UserName, user))
})

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/chat", handleUpgrade),
  HttpRouter.get("/", HttpServerResponse.text("Connect a WebSocket client to /chat?user=YourName\n"))
)

const ServerLive = Layer.unwrapEffect(
  Effect.map(Config.integer("PORT").pipe(Config.withDefault(8080)), (port) =>
    NodeHttpServer.layer(createServer, { port }))
)

const printUrl = HttpServer.addressWith((address) =>
  address._tag === "TcpAddress"
    ? Effect.log(`echo chat listening: connect to ws://localhost:${address.port}/chat?user=YourName`)
    : Effect.log(`echo chat listening on ${address.path}`)
)

const main = HttpServer.serve(router).pipe(
  Layer.merge(Layer.effectDiscard(printUrl)),
  Layer.provide(ServerLive)
)

NodeRuntime.runMain(Layer.launch(main))
