import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { CloseInfo } from "../Connection.js"
import type * as Message from "../Message.js"
import * as Metrics from "./metrics.js"
import { Signal } from "./signal.js"

/**
 * The connection is ending for a reason the transport or a timer saw (a protocol violation, a ping
 * flood, the outbound policy, a liveness timeout); the transport is already closing with `info.code`.
 */
export interface Closing {
  readonly _tag: "Closing"
  readonly info: CloseInfo
}

/** The selector stream failed. */
export interface SelectorFailed {
  readonly _tag: "SelectorFailed"
  readonly cause: Cause.Cause<unknown>
}

export type Item<Custom> = Message.Message<Custom> | Closing | SelectorFailed

/** A transport that can stop and restart reading from the peer. */
export interface Flow {
  readonly pause: () => void
  readonly resume: () => void
}

const nothing: ReadonlyArray<never> = []

/**
 * One connection's mailbox: transport frames and selector values, in arrival order.
 *
 * Frames from the transport are always accepted (they were already read off the socket), but the
 * inbox asks the transport to stop reading, so the peer feels TCP backpressure, while it holds
 * `capacity` items or more, or while the messages of the peer it holds come to `byteLimit` bytes or
 * more; it resumes once the loop is done with them. A message's bytes count from its arrival until
 * the loop has handled the batch it was taken in, so the bound covers the messages waiting and those
 * being handled. Producers that can wait, the selector streams, suspend while the inbox holds
 * `capacity` items or more. The loop takes everything buffered at once, so a burst costs one turn;
 * while it has nothing to do it waits on a plain callback (`whenNonEmpty`), not a fiber.
 */
export class Inbox<Custom> {
  private paused = false
  private items: Array<Item<Custom>> = []
  private next: (() => void) | undefined = undefined
  /** Woken when the loop takes the buffered items, and at the close: producers waiting for space. */
  private space: Signal | undefined = undefined
  private closed = false
  /** Bytes of the peer's messages waiting in `items`, and in the batch the loop took last. */
  private queuedBytes = 0
  private takenBytes = 0
  /** Set while the peer is over its rate limit: reading stays paused whatever the inbox holds. */
  private throttled = false

  /**
   * @param capacity items held at which the transport stops reading
   * @param byteLimit bytes of the peer's messages held at which the transport stops reading
   * @param flow the transport, paused at a limit and resumed once the loop took or handled what was held
   */
  constructor(readonly capacity: number, readonly byteLimit: number, private readonly flow: Flow) {}

  /** Adds an item of `bytes` on the wire whatever the size; ignored once the inbox is closed. */
  push(item: Item<Custom>, bytes = 0): void {
    if (this.closed) return
    this.items.push(item)
    this.queuedBytes += bytes
    if (
      !this.paused && (item._tag === "TextMessage" || item._tag === "BinaryMessage") &&
      (this.items.length >= this.capacity || this.queuedBytes + this.takenBytes >= this.byteLimit)
    ) {
      this.paused = true
      Metrics.pressed("pause")
      this.flow.pause()
    }
    // last: the callback may run the loop right here, which takes the items
    if (this.next !== undefined) {
      const next = this.next
      this.next = undefined
      next()
    }
  }

  /** Adds an item, first waiting while the inbox is at capacity. */
  offer(item: Item<Custom>): Effect.Effect<void> {
    return Effect.zipRight(
      (this.space ??= new Signal()).until(() => this.items.length < this.capacity || this.closed),
      Effect.sync(() => this.push(item))
    )
  }

  isEmpty(): boolean {
    return this.items.length === 0
  }

  /**
   * Everything buffered (maybe nothing), in order. Its bytes count until `handled`: at most one batch
   * is out at a time.
   */
  takeAll(): ReadonlyArray<Item<Custom>> {
    const batch = this.items
    if (batch.length === 0) return nothing
    this.items = []
    this.takenBytes += this.queuedBytes
    this.queuedBytes = 0
    this.space?.wake()
    if (this.paused) this.resumeUnderLimits()
    return batch
  }

  /** The loop has handled the batch it took last: its bytes no longer count. */
  handled(): void {
    if (this.takenBytes === 0) return
    this.takenBytes = 0
    if (this.paused) this.resumeUnderLimits()
  }

  /** Stops reading until `unthrottle`, whatever the inbox holds: the peer is over its rate limit. */
  throttle(): void {
    this.throttled = true
    if (this.paused) return
    this.paused = true
    this.flow.pause()
  }

  unthrottle(): void {
    this.throttled = false
    if (this.paused) this.resumeUnderLimits()
  }

  private resumeUnderLimits(): void {
    if (
      this.throttled || this.items.length >= this.capacity || this.queuedBytes + this.takenBytes >= this.byteLimit
    ) return
    this.paused = false
    this.flow.resume()
  }

  /** Calls `next` once, at the next push. */
  whenNonEmpty(next: () => void): void {
    this.next = next
  }

  /** Drops what is buffered and refuses more; waiting producers are released. */
  close(): void {
    this.closed = true
    this.next = undefined
    this.items = []
    this.queuedBytes = 0
    this.takenBytes = 0
    this.space?.wake()
  }
}
