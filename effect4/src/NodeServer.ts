/**
 * Serving HTTP and WebSocket routes on Node: the server Layer to use wherever a router has
 * `upgradeWebSocket` routes, in place of `NodeHttpServer.layer` from @effect/platform-node.
 *
 * It is `NodeHttpServer.layer` (same arguments, same services: `HttpServer`, `HttpPlatform`,
 * `Etag.Generator`, `NodeContext`) on a Node server that the library prepares first, plus the
 * `Acceptor` that WebSocket routes require: the open connections belong to it, so they live as long
 * as the server and close with 1001 when it shuts down (see `Acceptor`). Why the bare
 * platform layer is unsafe with WebSocket routes: @effect/platform-node 0.108 (the last release of
 * the Effect 3 line) attaches no `'error'` listener to the socket of an upgrade request, so a peer
 * that resets the connection while the server refuses or answers a handshake crashes the whole
 * process with an unhandled `'error'` event, whether or not the request reaches this library.
 *
 * On a server built by this Layer:
 *
 * - every upgrade request's socket has an `'error'` listener from the moment Node hands it over; a
 *   socket error is logged at debug level (annotated with `remoteAddress`) and never thrown, and the
 *   request's fiber ends as the platform interrupts it when the socket closes;
 * - an upgrade request that nothing serves (before `HttpServer.serve` attaches, or after the server
 *   started shutting down) is answered with 503 and its socket closed, instead of being dropped.
 *
 * @example
 * ```ts
 * import { HttpRouter, HttpServer } from "@effect/platform"
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Action, Connection, NodeServer, Upgrade } from "effect-websocket"
 * import { createServer } from "node:http"
 *
 * const echo = Upgrade.upgradeWebSocket({
 *   onInit: () => Effect.succeed(Upgrade.initial(null)),
 *   onMessage: (state, message, connection) =>
 *     message._tag === "TextMessage"
 *       ? Effect.as(Effect.ignore(Connection.sendText(connection, message.text)), Action.continueConnection(state))
 *       : Effect.succeed(Action.continueConnection(state)),
 *   onClose: () => Effect.void
 * })
 * const router = HttpRouter.empty.pipe(HttpRouter.get("/echo", echo))
 *
 * HttpServer.serve(router).pipe(
 *   Layer.provide(NodeServer.layer(createServer, { port: 8080 })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpServerError from "effect/http/HttpServerError"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type { LazyArg } from "effect/Function"
import type * as Layer from "effect/Layer"
import type * as Http from "node:http"
import type * as Net from "node:net"
import type * as Acceptor from "./Acceptor.js"
import * as internal from "./internal/node/server.js"

/**
 * The services a server Layer provides: those of `NodeHttpServer.layer` (`HttpServer`,
 * `HttpPlatform`, `Etag.Generator`, `NodeContext`) and the `Acceptor` that WebSocket routes need.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = internal.Provided | Acceptor.Acceptor

/**
 * An HTTP server on the Node server `evaluate` creates, listening with `options` (`{ port: 0 }` for a
 * free port), for as long as the Layer's scope. Fails with `ServeError` when it cannot listen.
 *
 * @example
 * ```ts
 * import { NodeServer } from "effect-websocket"
 * import { createServer } from "node:http"
 *
 * const ServerLive = NodeServer.layer(createServer, { port: 8080, host: "127.0.0.1" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  evaluate: LazyArg<Http.Server>,
  options: Net.ListenOptions
) => Layer.Layer<Services, HttpServerError.ServeError> = internal.layer

/**
 * `layer` with its listen options read from `Config`. Fails with `ServeError` when it cannot listen,
 * or `ConfigError` when the configuration is missing or invalid.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { NodeServer } from "effect-websocket"
 * import { createServer } from "node:http"
 *
 * const ServerLive = NodeServer.layerConfig(createServer, {
 *   port: Config.integer("PORT").pipe(Config.withDefault(8080))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  evaluate: LazyArg<Http.Server>,
  options: Config.Config.Wrap<Net.ListenOptions>
) => Layer.Layer<Services, HttpServerError.ServeError | ConfigError.ConfigError> = internal.layerConfig

/**
 * WebSocket routes on a server Layer the app builds itself: `platform` receives the Node server to
 * serve on (the one `evaluate` creates, prepared by the library: the socket-error guard, the first
 * frames kept) and returns the app's own platform Layer over it, typically `NodeHttpServer.layer` or
 * `layerConfig` with the app's options. The result adds the `Acceptor` and the shutdown order of
 * `layer`: the connections close when the scope of `HttpServer.serve` closes. The app's server,
 * created by `evaluate`, may already have its own `request` listeners (an Express app, say); the
 * platform adds its own next to them.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { NodeServer } from "effect-websocket/node"
 * import { createServer } from "node:http"
 *
 * // the app's own server and platform options, with WebSocket routes
 * const ServerLive = NodeServer.layerFrom(
 *   () => createServer({ keepAliveTimeout: 10_000 }),
 *   (server) => NodeHttpServer.layer(server, { port: 8080, host: "0.0.0.0" })
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFrom: <E, R>(
  evaluate: LazyArg<Http.Server>,
  platform: (server: LazyArg<Http.Server>) => Layer.Layer<internal.Provided, E, R>
) => Layer.Layer<Services, E, R> = internal.layerFrom
