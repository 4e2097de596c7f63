// `npm start`: the chat page at http://localhost:8080/ (PORT), the chat rooms it talks to, and Dream's
// echo chat at /chat. Ctrl-C closes open connections with 1001 and exits.
import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Option } from "effect"
import { NodeServer } from "effect-websocket/node"
import { createServer } from "node:http"
import { BroadcastLive, joinRoom } from "./chat-room.js"
import { demoPage } from "./demo-page.js"
import { router as echoChat } from "./echo-chat.js"

// PORT (default 8080); HOST to listen on one address only (HOST=127.0.0.1), every address by default
const ServerLive = Layer.unwrapEffect(
  Effect.map(
    Config.all([Config.integer("PORT").pipe(Config.withDefault(8080)), Config.option(Config.string("HOST"))]),
    ([port, host]) => NodeServer.layer(createServer, Option.isSome(host) ? { port, host: host.value } : { port })
  )
)

const printUrls = HttpServer.addressWith((address) =>
  address._tag === "TcpAddress"
    ? Effect.gen(function*() {
      const redis = yield* Config.option(Config.string("REDIS_URL"))
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
    : Effect.log(`listening on ${address.path}`)
)

const app = demoPage.pipe(
  HttpRouter.get("/rooms/:room", joinRoom),
  HttpRouter.concat(echoChat)
)

const main = HttpServer.serve(app).pipe(
  Layer.merge(Layer.effectDiscard(printUrls)),
  Layer.provide(BroadcastLive),
  Layer.provide(ServerLive)
)

// Effect's default logger: one line per event, with the connection's id and route
// (`websocket.connection=… websocket.route=/rooms/:room`), where the pretty one takes three
NodeRuntime.runMain(Layer.launch(main), { disablePrettyLogger: true })
