// `npm start`: the chat page at http://localhost:8080/ (PORT), the chat rooms it talks to, and Dream's
// echo chat at /chat. Ctrl-C closes open connections with 1001 and exits.
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Logger, Option } from "effect"
import { NodeServer } from "effect-websocket/node"
import { HttpRouter, HttpServer } from "effect/http"
import { createServer } from "node:http"
import { BroadcastLive, ChatRoomRoutes } from "./chat-room.js"
import { DemoPageRoutes } from "./demo-page.js"
import { EchoChatRoutes } from "./echo-chat.js"

// PORT (default 8080); HOST to listen on one address only (HOST=127.0.0.1), every address by default
const ServerLive = Layer.unwrap(
  Effect.map(
    Config.all([Config.Int("PORT").pipe(Config.withDefault(8080)), Config.option(Config.String("HOST"))]),
    ([port, host]) => NodeServer.layer(createServer, Option.isSome(host) ? { port, host: host.value } : { port })
  )
)

const printUrls = Effect.gen(function*() {
  const { address } = yield* HttpServer.HttpServer
  if (address._tag === "UnixPathAddress") return yield* Effect.log(`listening on ${address.path}`)
  const redis = yield* Config.option(Config.String("REDIS_URL"))
  yield* Effect.log(`chat page: open http://localhost:${address.port}/ in a browser`)
  yield* Effect.log(
    `chat rooms: ws://localhost:${address.port}/rooms/lobby?user=YourName (${
      Option.isSome(redis)
        ? "shared with every server using this Redis"
        : "this process only: set REDIS_URL to share"
    })`
  )
  yield* Effect.log(`echo chat: ws://localhost:${address.port}/chat?user=YourName`)
})

const Routes = Layer.mergeAll(DemoPageRoutes, ChatRoomRoutes, EchoChatRoutes)

// no request log and no "Listening on" line: the connections log their own events, and printUrls
// says where to go
const main = HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.merge(Layer.effectDiscard(printUrls)),
  Layer.provide(BroadcastLive),
  Layer.provide(ServerLive),
  // logfmt: one line per event, with the connection's id and route
  // (`websocket.connection=… websocket.route=/rooms/:room`), where the default logger takes four
  Layer.provide(Logger.layer([Logger.consoleLogFmt]))
)

NodeRuntime.runMain(Layer.launch(main))
