/**
 * effect-websocket on Node: the server Layer for WebSocket routes. The package's root is
 * runtime-neutral (the loop, the test kit, protocols, in-memory broadcast); this entry is the one
 * that loads `ws` and @effect/platform-node.
 *
 * @since 0.1.0
 */

/**
 * Serving on Node: the HTTP server Layer to use with WebSocket routes (`layer`, `layerConfig`), or the
 * pieces over a server Layer the app builds itself (`layerFrom`).
 *
 * @since 0.1.0
 */
export * as NodeServer from "./NodeServer.js"
