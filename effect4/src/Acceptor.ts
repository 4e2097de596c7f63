/**
 * Accepting connections: where `upgradeWebSocket` hands a validated handshake to a runtime's sockets,
 * and what owns the connections once the route has answered.
 *
 * An `Acceptor` is a service. The route asks it to complete the handshake (`accept` turns the request
 * into a `Transport`, the wire of one connection) and gives it the connection to run; the route then
 * returns at once, and the connection lives in the acceptor's `Scope`, which is the server's. When
 * that scope closes (the server shuts down), the acceptor stops taking connections, every open one is
 * told 1001 and runs its `onClose`, and the scope's close waits for them, each for at most its route's
 * `closeTimeout`.
 *
 * `NodeServer.layer` provides the Node acceptor (the library's `ws` server) and `Testing` an in-memory
 * one. Another runtime (Bun, uWebSockets, another Effect line) is a new `accept` function and a Layer
 * built with `Acceptor.make`: the loop, the limits and the handlers do not change. A route whose
 * server provides no `Acceptor` does not compile: `Acceptor` is in its requirements.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Acceptor } from "effect-websocket"
 *
 * // a runtime that cannot upgrade: every handshake is answered with 501
 * const NoWebSockets = Layer.effect(Acceptor.Acceptor, Acceptor.make(() => undefined))
 * ```
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as Scope from "effect/Scope"
import type { CloseInfo, SendError } from "./Connection.js"
import * as internal from "./internal/acceptor.js"
import type * as Message from "./Message.js"

/**
 * The wire of one connection, as the loop uses it. A transport delivers what the peer sends to the
 * `Sink` it was accepted with and carries out what the loop asks for. Nothing here blocks: sends
 * succeed once the frame is queued.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transport {
  /** Queues a text frame, or says why it cannot. */
  readonly sendText: (text: string) => SendError | undefined
  /** Queues a binary frame, or says why it cannot. */
  readonly sendBinary: (data: Uint8Array) => SendError | undefined
  /**
   * Queues a message sent to many connections (a broadcast): the same result as `sendText` or
   * `sendBinary`, but a transport may encode it once for all of them and keep the encoding in
   * `message.encoded`.
   */
  readonly sendShared: (message: Shared) => SendError | undefined
  /** Starts the closing handshake with a valid code; does nothing once closing. */
  readonly close: (code: number, reason: string) => void
  /** Sends a ping; the peer's pong reaches the sink. */
  readonly ping: () => void
  /** Stops reading from the peer (TCP backpressure) until `resume`. */
  readonly pause: () => void
  /** Reads from the peer again. */
  readonly resume: () => void
  /** Bytes queued for the peer and not yet written out. */
  readonly bufferedAmount: () => number
  /** Succeeds once the queued bytes drained (or the transport closed). */
  readonly awaitDrain: Effect.Effect<void>
  /** Drops the connection without a closing handshake. */
  readonly terminate: () => void
  /** Whether frames can still be sent. */
  readonly isOpen: () => boolean
  /** Whether the transport is fully closed: `awaitClosed` would succeed at once. */
  readonly isClosed: () => boolean
  /** Succeeds when the transport is fully closed. */
  readonly awaitClosed: Effect.Effect<void>
  /** The negotiated extensions, as sent in `Sec-WebSocket-Extensions`. */
  readonly extensions: string
}

/**
 * One message on its way to many connections. The first transport that sends it may store its own
 * encoding (the frame's bytes, say) in `encoded`, and every other connection of that transport then
 * reuses it: a broadcast is encoded and framed once, not once per subscriber. A transport that sees
 * an `encoded` it did not make (`owner` is someone else) ignores it.
 * @since 0.1.0
 * @category models
 */
export interface Shared {
  readonly binary: boolean
  readonly data: string | Uint8Array
  /** Who made `encoded`. */
  owner: unknown
  encoded: unknown
}

/**
 * What a transport delivers: the peer's messages, the peer's close (`ConnectionClosed`, 1006 when the
 * connection was lost), or `Closing` when the transport itself ends the connection (a protocol
 * violation, a message too big) and is already closing with `info.code`.
 *
 * @since 0.1.0
 * @category models
 */
export type Incoming =
  | Message.TextMessage
  | Message.BinaryMessage
  | Message.ConnectionClosed
  | { readonly _tag: "Closing"; readonly info: CloseInfo }

/**
 * Where a transport delivers what the peer sends.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sink {
  /**
   * A message or the end of the connection. `bytes`, the message's payload size on the wire, feeds
   * the byte counters; without it the loop measures the message itself (UTF-8 for text).
   */
  readonly push: (item: Incoming, bytes?: number) => void
  /** The peer answered a ping. */
  readonly pong: () => void
}

/**
 * permessage-deflate settings, resolved from the route's `compression` option (the shape `ws` takes).
 *
 * @since 0.1.0
 * @category models
 */
export interface Deflate {
  readonly threshold: number
  readonly concurrencyLimit: number
  readonly zlibDeflateOptions: { readonly level: number; readonly memLevel: number }
  readonly serverMaxWindowBits?: number
  readonly clientMaxWindowBits?: number
  readonly serverNoContextTakeover?: boolean
  readonly clientNoContextTakeover?: boolean
}

/**
 * What the wire must apply, from the route's options: the same object for every handshake of one
 * route, so a transport can keep one protocol engine per route.
 *
 * @since 0.1.0
 * @category models
 */
export interface Wire {
  /** Largest message accepted, in bytes, after reassembly and decompression; beyond it, 1009. */
  readonly maxMessageSize: number
  /** permessage-deflate to offer, or `false`. */
  readonly compression: Deflate | false
}

/**
 * A handshake the route has validated and decided: what the 101 response must say.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handshake {
  /** The subprotocol chosen, for `Sec-WebSocket-Protocol`; `undefined` for none. */
  readonly protocol: string | undefined
  /** Extra headers of the 101 response. */
  readonly headers: Readonly<Record<string, string>>
  readonly wire: Wire
}

/**
 * Completes the handshake of `request` and connects the new transport. `connect` is called once,
 * synchronously, as soon as the transport exists and before it delivers anything: it builds the
 * connection around the transport and returns the `Sink` the transport delivers to. Returns
 * `undefined` when this acceptor cannot serve the request (the route answers 501), and `"gone"` when
 * the client left before the handshake completed (`connect` was not called).
 * @since 0.1.0
 * @category models
 */
export type Accept = (
  request: HttpServerRequest.HttpServerRequest,
  handshake: Handshake,
  connect: (transport: Transport) => Sink
) => Transport | "gone" | undefined

/**
 * Unique identifier of `Acceptor` values.
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
 * The service that accepts connections and owns them until the server shuts down; built by `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Acceptor {
  readonly [TypeId]: TypeId
  readonly accept: Accept
}

/**
 * The `Acceptor` service's tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const Acceptor: Context.Service<Acceptor, Acceptor> = internal.Acceptor

/**
 * An acceptor whose connections live in the current `Scope`. When the scope closes, `onShutdown`
 * runs first (stop listening, answer late requests with 503), then every open connection is closed
 * with 1001 and its `onClose` runs; the close waits for them.
 *
 * - `onShutdown`: what the server does when it starts shutting down, before the connections close.
 * - `onEnded`: told how each connection ended, once its `onClose` ran and its transport closed (for
 *   observers such as the test kit).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Acceptor } from "effect-websocket"
 *
 * declare const accept: Acceptor.Accept
 * const MyRuntime = Layer.effect(Acceptor.Acceptor, Acceptor.make(accept))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  accept: Accept,
  options?: {
    readonly onShutdown?: Effect.Effect<void> | undefined
    readonly onEnded?: ((transport: Transport, info: CloseInfo) => void) | undefined
  }
) => Effect.Effect<Acceptor, never, Scope.Scope> = internal.make
