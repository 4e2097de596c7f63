// effect-websocket broadcast: every connection to / subscribes to "all"; a message on /control is
// published to "all". With REDIS_URL, through the Redis backplane (several of these processes share
// the topic). Production defaults otherwise (heartbeat, limits).
import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Action, Broadcast, Upgrade } from "effect-websocket"
import * as BroadcastRedis from "effect-websocket/BroadcastRedis"
import { NodeServer } from "effect-websocket/node"
import { createServer } from "node:http"

const subscriber = Upgrade.upgradeWebSocket({
  onInit: (connection) => Effect.as(Broadcast.subscribe(connection, "all"), Upgrade.initial(null)),
  onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}, { maxConnections: 50_000, maxConnectionsPerAddress: 50_000 })

const control = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state, message) =>
    message._tag === "TextMessage"
      ? Effect.as(Effect.orDie(Broadcast.publish("all", message.text)), Action.continueConnection(state))
      : Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
})

const redis = process.env.REDIS_URL
HttpServer.serve(HttpRouter.empty.pipe(HttpRouter.get("/", subscriber), HttpRouter.get("/control", control))).pipe(
  Layer.merge(
    Layer.effectDiscard(
      HttpServer.addressWith((address) =>
        Effect.sync(() => console.log(`PORT ${address._tag === "TcpAddress" ? address.port : 0}`))
      )
    )
  ),
  Layer.provide(redis === undefined ? Broadcast.layer() : BroadcastRedis.layer({ url: redis })),
  Layer.provide(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.launch,
  (main) => NodeRuntime.runMain(main, { disableErrorReporting: true })
)
