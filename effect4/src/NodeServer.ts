/**
 * Serving HTTP and WebSocket routes on Node: the server Layer to use wherever a router has
 * `upgradeWebSocket` routes, in place of `NodeHttpServer.layer` from @effect/platform-node.
 *
 * It is `NodeHttpServer.layer` (same arguments but the `websocket` option, same services:
 * `HttpServer`, `HttpPlatform`, `Etag.Generator`, `NodeServices`) on a Node server that the library
 * prepares first, plus the `Acceptor` that WebSocket routes require: the open connections belong to
 * it, so they live as long as the server and close with 1001 when it shuts down (see `Acceptor`), each
 * running its `onClose` while the services of the routes are still there. The bare platform layer
 * serves no `upgradeWebSocket` route (they answer 500, and say so once in the log), and its shutdown
 * ends upgraded sockets without a close frame.
 *
 * On a server built by this Layer:
 *
 * - every upgrade request's socket has an `'error'` listener from the moment Node hands it over; a
 *   socket error is logged at debug level (annotated with `remoteAddress`) and never thrown, and the
 *   request's fiber ends as the platform interrupts it when the socket closes; once a connection is
 *   upgraded, `ws` handles its socket's errors and `onClose` reports a lost connection (1006);
 * - the bytes a client sends right after its handshake, in the same packet (its first frames), reach
 *   the connection;
 * - an upgrade request that nothing serves (before `HttpServer.serve` attaches, or once the server
 *   has shut down) is answered with 503 and its socket closed, instead of being dropped; while the
 *   connections close, WebSocket routes answer new handshakes with 503;
 * - an idle connection keeps nothing of the request's fiber.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { Action, Connection, Upgrade } from "effect-websocket"
 * import { NodeServer } from "effect-websocket/node"
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
 *
 * HttpRouter.serve(HttpRouter.add("GET", "/echo", echo)).pipe(
 *   Layer.provide(NodeServer.layer(createServer, { port: 8080 })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type { LazyArg } from "effect/Function"
import type * as HttpServerError from "effect/http/HttpServerError"
import type * as Layer from "effect/Layer"
import type * as Http from "node:http"
import type * as Acceptor from "./Acceptor.js"
import * as internal from "./internal/node/server.js"

/**
 * The services a server Layer provides: those of `NodeHttpServer.layer` (`HttpServer`,
 * `HttpPlatform`, `Etag.Generator`, `NodeServices`) and the `Acceptor` that WebSocket routes need.
 *
 * @since 2.0.0
 * @category models
 */
export type Services = internal.Provided | Acceptor.Acceptor

/**
 * The options of `layer`: those of `NodeHttpServer.layer` (the listen options, `gracefulShutdownTimeout`,
 * `disablePreemptiveShutdown`) but `websocket`, which configures the platform's own `ws` server:
 * WebSocket routes take theirs (`maxMessageSize`, `compression`) from `upgradeWebSocket`.
 *
 * `gracefulShutdownTimeout` bounds the wait for HTTP requests once the WebSocket connections have
 * closed; each connection's close is bounded by its route's `closeTimeout`.
 *
 * @since 2.0.0
 * @category models
 */
export type Options = internal.Options

/**
 * An HTTP server on the Node server `evaluate` creates, listening with `options` (`{ port: 0 }` for a
 * free port), for as long as the Layer's scope. Fails with `ServeError` when it cannot listen.
 * `options` are those of `NodeHttpServer.layer` but `websocket` (see `Options`).
 *
 * @example
 * ```ts
 * import { NodeServer } from "effect-websocket/node"
 * import { createServer } from "node:http"
 *
 * const ServerLive = NodeServer.layer(createServer, { port: 8080, host: "127.0.0.1" })
 * ```
 *
 * @since 2.0.0
 * @category layers
 */
export const layer: (
  evaluate: LazyArg<Http.Server>,
  options: Options
) => Layer.Layer<Services, HttpServerError.ServeError> = internal.layer

/**
 * `layer` with its options read from `Config`. Fails with `ServeError` when it cannot listen, or
 * `Config.ConfigError` when the configuration is missing or invalid.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { NodeServer } from "effect-websocket/node"
 * import { createServer } from "node:http"
 *
 * const ServerLive = NodeServer.layerConfig(createServer, {
 *   port: Config.Port("PORT").pipe(Config.withDefault(8080))
 * })
 * ```
 *
 * @since 2.0.0
 * @category layers
 */
export const layerConfig: (
  evaluate: LazyArg<Http.Server>,
  options: Config.Wrap<Options>
) => Layer.Layer<Services, HttpServerError.ServeError | Config.ConfigError> = internal.layerConfig

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
 * @since 2.0.0
 * @category layers
 */
export const layerFrom: <E, R>(
  evaluate: LazyArg<Http.Server>,
  platform: (server: LazyArg<Http.Server>) => Layer.Layer<internal.Provided, E, R>
) => Layer.Layer<Services, E, R> = internal.layerFrom
