import * as Effect from "effect/Effect"
import type * as Headers from "effect/http/Headers"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type { CloseInfo, Connection } from "../Connection.js"
import * as Close from "./core/close.js"
import { SendError, TypeId } from "./errors.js"
import type { Liveness } from "./liveness.js"
import * as Metrics from "./metrics.js"
import type { Outbound } from "./options.js"
import type { ConnectionTrace } from "./trace.js"
import { closeAndReport, type Report, type Transport } from "./transport.js"

export interface ConnectionImpl extends Pipeable {}

/**
 * A copy of `text` in one piece. Strings built by concatenation (`crypto.randomUUID()`, Effect's span
 * ids) are trees of their parts in V8, each part an object: a UUID kept as built is 14 of them.
 */
export const flat = (text: string): string => JSON.parse(JSON.stringify(text)) as string

const backpressure = new SendError({ reason: "Backpressure" })
const bufferFull: CloseInfo = { code: Close.PolicyViolation, reason: "outbound buffer full", initiator: "error" }

export class ConnectionImpl implements Connection {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly id: string = flat(crypto.randomUUID())
  readonly remoteAddress: Option.Option<string>
  readonly protocol: Option.Option<string>
  readonly headers: Headers.Headers
  readonly url: string

  constructor(
    readonly transport: Transport,
    request: HttpServerRequest.HttpServerRequest,
    protocol: string | undefined,
    readonly liveness: Liveness,
    /** Where the outbound policy reports the close it decides: the connection's inbox. */
    readonly report: Report,
    readonly outbound: Outbound,
    /** The route's path pattern (`/rooms/:room`), or the request's path without a router. */
    readonly route: string
  ) {
    this.remoteAddress = request.remoteAddress
    this.protocol = Option.fromNullishOr(protocol)
    this.headers = request.headers
    this.url = request.url
  }

  /** The connection's span and its counters, when a tracer is installed. */
  trace: ConnectionTrace | undefined = undefined

  /**
   * Sees the peer's text frames before the inbox does (a typed route's: heartbeats and replies to
   * the server's requests); `true` takes the frame away from the loop.
   */
  tap: ((text: string) => boolean) | undefined = undefined

  /** Told once, when the connection starts ending (before `onClose`); allocated by the first. */
  private endings: Array<() => void> | undefined = undefined
  private ending = false

  /** Calls `f` when the connection starts ending, or now if it already has. */
  whenEnding(f: () => void): void {
    if (this.ending) f()
    else (this.endings ??= []).push(f)
  }

  /** Whether the connection has started ending. */
  isEnding(): boolean {
    return this.ending
  }

  /** The connection starts ending: everything waiting for that is told, once. */
  end(): void {
    if (this.ending) return
    this.ending = true
    const endings = this.endings
    this.endings = undefined
    if (endings !== undefined) { for (const f of endings) f() }
  }

  get extensions(): string {
    return this.transport.extensions
  }

  /**
   * Sends a frame, applying the outbound policy when the transport already holds `highWaterMark`
   * bytes: so the queue passes the mark by at most one message.
   */
  send(binary: boolean, data: string | Uint8Array): Effect.Effect<void, SendError> {
    if (this.transport.bufferedAmount() < this.outbound.highWaterMark) return this.write(binary, data)
    const policy = this.outbound.policy
    Metrics.pressed(policy)
    switch (policy) {
      case "fail":
        Metrics.sendFailed("Backpressure")
        return Effect.fail(backpressure)
      case "close":
        return Effect.suspend(() => {
          if (this.transport.isOpen()) closeAndReport(this.transport, this.report, bufferFull)
          Metrics.sendFailed("Backpressure")
          return Effect.fail(backpressure)
        })
      case "suspend":
        return this.afterDrain(binary, data).pipe(
          Effect.timeoutOrElse({
            duration: this.outbound.sendTimeout,
            orElse: () => {
              Metrics.sendFailed("Timeout")
              return Effect.fail(new SendError({ reason: "Timeout" }))
            }
          })
        )
    }
  }

  private write(binary: boolean, data: string | Uint8Array): Effect.Effect<void, SendError> {
    const error = binary
      ? this.transport.sendBinary(data as Uint8Array)
      : this.transport.sendText(data as string)
    if (error !== undefined) {
      Metrics.sendFailed(error.reason)
      return Effect.fail(error)
    }
    this.liveness.touch()
    const bytes = binary ? (data as Uint8Array).byteLength : Metrics.textBytes(data as string)
    Metrics.sent(binary, bytes, 1)
    this.trace?.sent(bytes)
    return Effect.void
  }

  private afterDrain(binary: boolean, data: string | Uint8Array): Effect.Effect<void, SendError> {
    return Effect.suspend(() =>
      !this.transport.isOpen() || this.transport.bufferedAmount() < this.outbound.highWaterMark
        ? this.write(binary, data)
        : Effect.andThen(this.transport.awaitDrain, this.afterDrain(binary, data))
    )
  }
}

ConnectionImpl.prototype.pipe = function(this: ConnectionImpl) {
  // eslint-disable-next-line prefer-rest-params
  return pipeArguments(this, arguments)
}
