import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Option } from "effect"
import { NodeServer } from "effect-websocket"
import { createServer } from "node:http"
import { BroadcastLive, joinRoom } from "./chat-room.js"
import { router } from "./echo-chat.js"

const ServerLive = Layer.unwrapEffect(
  Effect.map(Config.integer("PORT").pipe(Config.withDefault(8080)), (port) => NodeServer.layer(createServer, { port }))
)

const printUrl = HttpServer.addressWith((address) =>
  address._tag === "TcpAddress"
    ? Effect.gen(function*() {
      yield* Effect.log(`echo chat listening: connect to ws://localhost:${address.port}/chat?user=YourName`)
      const redis = yield* Config.option(Config.string("REDIS_URL"))
      yield* Effect.log(
        `chat rooms: ws://localhost:${address.port}/rooms/lobby?user=YourName (${
          Option.isSome(redis)
            ? "shared with every server using this Redis"
            : "this process only: set REDIS_URL to share"
        })`
      )
    })
    : Effect.log(`echo chat listening on ${address.path}`)
)

const app = router.pipe(HttpRouter.get("/rooms/:room", joinRoom))

const main = HttpServer.serve(app).pipe(
  Layer.merge(Layer.effectDiscard(printUrl)),
  Layer.provide(BroadcastLive),
  Layer.provide(ServerLive)
)

NodeRuntime.runMain(Layer.launch(main))
