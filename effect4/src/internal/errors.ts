/**
 * The errors and type ids the public modules export and the internal modules use: defined here, so
 * that no internal module imports a public one for a value.
 */
import * as Data from "effect/Data"
import { utf8Length } from "./core/close.js"

export const TypeId: unique symbol = Symbol.for("effect-websocket/Connection")

/** Why a send did not go out; documented at `Connection.SendError`. */
export class SendError extends Data.TaggedError("SendError")<{
  readonly reason: "SocketClosed" | "Timeout" | "Backpressure" | "Unknown"
  readonly cause?: unknown
}> {
  override get message(): string {
    switch (this.reason) {
      case "SocketClosed":
        return "the WebSocket connection is closed"
      case "Timeout":
        return "the send timed out waiting for the outbound queue to drain"
      case "Backpressure":
        return "the outbound queue is full"
      case "Unknown":
        return `the send failed: ${String(this.cause)}`
    }
  }
}

/** A close code or reason that cannot go on the wire; documented at `Action.CloseError`. */
export class CloseError extends Data.TaggedError("CloseError")<{
  readonly reason: "InvalidCode" | "ReasonTooLong"
  readonly code: number
  readonly closeReason: string
}> {
  override get message(): string {
    return this.reason === "InvalidCode"
      ? `${this.code} is not a close code an endpoint may send (1000-1003, 1007-1014, 3000-4999)`
      : `close reason is ${utf8Length(this.closeReason)} bytes of UTF-8; at most 123 fit in a close frame`
  }
}

/**
 * A handler ends the connection on purpose with a close code (`Upgrade.refuse`): not a failure. The
 * loop sends `last` (if any), then the close frame, and logs nothing; documented at `Upgrade.Refusal`.
 */
export class Refusal extends Data.TaggedError("Refusal")<{
  readonly code: number
  readonly reason: string
  /** A last message sent before the close frame: text, or binary. */
  readonly last?: string | Uint8Array | undefined
}> {
  override get message(): string {
    return `the connection was refused with ${this.code}${this.reason === "" ? "" : ` (${this.reason})`}`
  }
}
