import { HttpServer } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { NodeServer } from "effect-websocket"
import { createServer } from "node:http"
import { router } from "./echo-chat.js"

const ServerLive = Layer.unwrapEffect(
  Effect.map(Config.integer("PORT").pipe(Config.withDefault(8080)), (port) => NodeServer.layer(createServer, { port }))
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
