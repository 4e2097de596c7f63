/**
 * effect-websocket: Dream's typed WebSocket loop on Effect-TS.
 *
 * @since 0.1.0
 */

/**
 * The next step of a connection's loop, returned by `onMessage`.
 *
 * @since 0.1.0
 */
export * as Action from "./Action.js"

/**
 * The handle a handler uses to talk back to the client; `SendError`, `CloseInfo`.
 *
 * @since 0.1.0
 */
export * as Connection from "./Connection.js"

/**
 * Messages that reach a connection's `onMessage` handler.
 *
 * @since 0.1.0
 */
export * as Message from "./Message.js"

/**
 * Upgrading an HTTP request to a WebSocket connection, and the handlers that run it.
 *
 * @since 0.1.0
 */
export * as Upgrade from "./Upgrade.js"

/**
 * Testing handlers and routes in memory: no port, `TestClock`, mock Layers.
 *
 * @since 0.1.0
 */
export * as Testing from "./Testing.js"

/**
 * Accepting connections: the seam between routes and a runtime's sockets, and the owner of open
 * connections.
 *
 * @since 0.1.0
 */
export * as Acceptor from "./Acceptor.js"

/**
 * Sending one message to every connection subscribed to a topic, in one process (`layer`) or
 * across processes through Redis (`effect-websocket/BroadcastRedis`).
 *
 * @since 0.1.0
 */
export * as Broadcast from "./Broadcast.js"

/**
 * Who is in a topic, across servers: tracked connections with typed metas, diffs to the topic's
 * subscribers, ordered per server and topic.
 *
 * @since 2.0.0
 */
export * as Presence from "./Presence.js"

/**
 * Typed messages in and out: a route's protocol declared once with `effect/Schema`.
 *
 * @since 0.1.0
 */
export * as Protocol from "./Protocol.js"

/**
 * The other end of a typed route: a client that speaks its protocol, reconnects, and sends requests
 * that expect a reply; for browsers, Deno, Bun and Node (no Node-only import).
 *
 * @since 2.0.0
 */
export * as Client from "./Client.js"

/**
 * What the library tells operators: its metrics, span names and attributes, and log annotations.
 *
 * @since 0.1.0
 */
export * as Observability from "./Observability.js"
