import type * as Effect from "effect/Effect"
import type { CloseInfo, SendError } from "../Connection.js"
import type { Item } from "./inbox.js"

/**
 * The seam between the loop and a wire. A transport delivers what the peer sends to its sink (text and
 * binary messages, the peer's close as `ConnectionClosed`, a protocol violation as `ProtocolError`) and
 * carries out what the loop asks for. Nothing here blocks: sends succeed once the frame is queued.
 */
export interface Transport {
  /** Queues a text frame, or says why it cannot. */
  readonly sendText: (text: string) => SendError | undefined
  /** Queues a binary frame, or says why it cannot. */
  readonly sendBinary: (data: Uint8Array) => SendError | undefined
  /** Starts the closing handshake with a valid code; does nothing once closing. */
  readonly close: (code: number, reason: string) => void
  /** Sends a ping; the peer's pong reaches the sink. */
  readonly ping: () => void
  /** Stops reading from the peer (TCP backpressure) until `resume`. */
  readonly pause: () => void
  readonly resume: () => void
  /** Bytes queued for the peer and not yet written out. */
  readonly bufferedAmount: () => number
  /** Succeeds once the queued bytes drained (or the transport closed). */
  readonly awaitDrain: Effect.Effect<void>
  /**
   * The server this connection came through is shutting down: stop accepting connections and answer
   * requests that still arrive with 503, so that the drain of open connections is not kept waiting by
   * new ones. Idempotent per server.
   */
  readonly refuseNewConnections: () => void
  /** Drops the connection without a closing handshake. */
  readonly terminate: () => void
  /** Whether frames can still be sent. */
  readonly isOpen: () => boolean
  /** Succeeds when the transport is fully closed. */
  readonly awaitClosed: Effect.Effect<void>
  /** The negotiated extensions, as sent in `Sec-WebSocket-Extensions`. */
  readonly extensions: string
  /** Told once how the connection ended, after the loop is done (for observers such as the test kit). */
  readonly ended: (info: CloseInfo) => void
}

/** Where a transport delivers what the peer sends. */
export interface Sink {
  readonly push: (item: Item<never>) => void
  /** The peer answered a ping. */
  readonly pong: () => void
}

/** The server closes with `info.code` and tells the loop why, so that `onClose` gets `info`. */
export const closeAndReport = (transport: Transport, sink: Sink, info: CloseInfo): void => {
  transport.close(info.code, info.reason)
  sink.push({ _tag: "Closing", info })
}
