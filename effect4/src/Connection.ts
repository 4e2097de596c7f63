/**
 * The handle a handler uses to talk back to the client.
 *
 * Port of Dream's opaque `websocket.Connection`. A `Connection` is given to `onInit` and to every
 * `onMessage` call; `sendText` and `sendBinary` put a frame on the wire and fail with a typed
 * `SendError` instead of throwing. A send never hangs: it succeeds once the frame is handed to the
 * transport (queued for the socket), or fails. When the bytes queued for the peer reach the upgrade's
 * `outbound.highWaterMark`, its `outbound.policy` decides: wait for the queue to drain (up to
 * `sendTimeout`, then `Timeout`), fail with `Backpressure`, or close the connection. A send after the
 * connection closed (including inside the handler for `ConnectionClosed`) fails with `SocketClosed`.
 *
 * When the connection is over, `onClose` receives a `CloseInfo` telling how it ended.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Connection, Message } from "effect-websocket"
 *
 * const onMessage = (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
 *   Effect.gen(function*() {
 *     if (Message.isTextMessage(message)) {
 *       yield* Connection.sendText(connection, message.text.toUpperCase())
 *     }
 *     return Action.continueConnection(state)
 *   })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Headers from "effect/http/Headers"
import type * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import type { ConnectionImpl } from "./internal/connection.js"
import * as internal from "./internal/errors.js"

/**
 * Unique identifier of `Connection` values.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A WebSocket connection: a handle valid for the lifetime of one connection, with what the handshake
 * established (id, remote address, subprotocol, extensions, request headers and URL).
 *
 * Port of Dream's `websocket.Connection`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection extends Pipeable {
  readonly [TypeId]: TypeId
  /** A unique id for this connection (a random UUID), for logs and registries. */
  readonly id: string
  /** The peer's address as the server saw it, from the handshake request. */
  readonly remoteAddress: Option.Option<string>
  /** The subprotocol the server chose (see the `subprotocols` option), if any. */
  readonly protocol: Option.Option<string>
  /** The negotiated extensions, as sent in `Sec-WebSocket-Extensions` (`""` when none). */
  readonly extensions: string
  /** The handshake request's headers. */
  readonly headers: Headers.Headers
  /** The handshake request's URL: path and query. */
  readonly url: string
}

/**
 * Why a send did not go out.
 *
 * - `SocketClosed`: the connection is closing or closed (the frame was not sent).
 * - `Timeout`: the send waited for the outbound queue to drain and gave up.
 * - `Backpressure`: the outbound queue is over its high-water mark and the policy is to fail.
 * - `Unknown`: the transport refused the frame for another reason; see `cause`.
 *
 * Port of Dream's `SendError`.
 *
 * @since 0.1.0
 * @category errors
 */
export const SendError: typeof internal.SendError = internal.SendError

/**
 * @since 0.1.0
 * @category errors
 */
export type SendError = internal.SendError

/**
 * Who ended a connection:
 *
 * - `"peer"`: the client sent a close frame or the transport was lost (code 1006).
 * - `"server"`: a handler returned `stopConnection` or `stopConnectionWith`.
 * - `"error"`: a handler or the selector stream failed (1011), or the peer broke the protocol
 *   (1002 protocol error, 1007 invalid UTF-8, 1008 policy, 1009 message too big).
 * - `"timeout"`: a liveness timer expired.
 * - `"shutdown"`: the server is shutting down: its `Acceptor`'s scope closed (1001).
 *
 * @since 0.1.0
 * @category models
 */
export type CloseInitiator = "peer" | "server" | "error" | "timeout" | "shutdown"

/**
 * How a connection ended, given to `onClose`. `code` and `reason` are the peer's for `"peer"`, and
 * those the server sent otherwise.
 *
 * @since 0.1.0
 * @category models
 */
export interface CloseInfo {
  readonly code: number
  readonly reason: string
  readonly initiator: CloseInitiator
}

/**
 * Is this value a `Connection`?
 *
 * @example
 * ```ts
 * import { Connection } from "effect-websocket"
 *
 * Connection.isConnection({}) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isConnection = (u: unknown): u is Connection => typeof u === "object" && u !== null && TypeId in u

/**
 * Send a text frame to the client. Fails with `SendError` (`SocketClosed` once the connection is
 * closing or closed); never throws and never waits for the peer.
 *
 * Port of `websocket.send_text`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Connection } from "effect-websocket"
 *
 * const greet = (connection: Connection.Connection) =>
 *   Connection.sendText(connection, "Hello!").pipe(
 *     Effect.catchTag("SendError", (error) => Effect.logWarning(error.message))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category sending
 */
export const sendText: {
  (text: string): (self: Connection) => Effect.Effect<void, SendError>
  (self: Connection, text: string): Effect.Effect<void, SendError>
} = dual(
  2,
  (self: Connection, text: string): Effect.Effect<void, SendError> =>
    Effect.suspend(() => (self as ConnectionImpl).send(false, text))
)

/**
 * Send a binary frame to the client. Fails with `SendError` (`SocketClosed` once the connection is
 * closing or closed); never throws and never waits for the peer.
 *
 * Port of `websocket.send_binary`.
 *
 * @example
 * ```ts
 * import { Connection } from "effect-websocket"
 *
 * const sendBytes = (connection: Connection.Connection) =>
 *   Connection.sendBinary(connection, new Uint8Array([1, 2, 3]))
 * ```
 *
 * @since 0.1.0
 * @category sending
 */
export const sendBinary: {
  (data: Uint8Array): (self: Connection) => Effect.Effect<void, SendError>
  (self: Connection, data: Uint8Array): Effect.Effect<void, SendError>
} = dual(
  2,
  (self: Connection, data: Uint8Array): Effect.Effect<void, SendError> =>
    Effect.suspend(() => (self as ConnectionImpl).send(true, data))
)

/**
 * Bytes queued for the peer and not yet written to the network: what the outbound policy compares
 * with `outbound.highWaterMark`. Useful for metrics and for producers that pace themselves.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Connection } from "effect-websocket"
 *
 * const report = (connection: Connection.Connection) =>
 *   Effect.flatMap(Connection.bufferedAmount(connection), (bytes) => Effect.log(`${bytes} bytes queued`))
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const bufferedAmount = (self: Connection): Effect.Effect<number> =>
  Effect.sync(() => (self as ConnectionImpl).transport.bufferedAmount())
