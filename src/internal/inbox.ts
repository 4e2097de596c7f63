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
 * Frames from the transport are always accepted (they were already read off the socket), but at
 * `capacity` the inbox asks the transport to stop reading, so the peer feels TCP backpressure, and
 * resumes it once the loop has taken what was buffered. Producers that can wait, the selector
 * streams, suspend while the inbox holds `capacity` items or more. The loop takes everything buffered
 * at once, so a burst costs one turn; while it has nothing to do it waits on a plain callback
 * (`whenNonEmpty`), not a fiber.
 */
export class Inbox<Custom> {
  private paused = false
  private items: Array<Item<Custom>> = []
  private next: (() => void) | undefined = undefined
  /** Woken when the loop takes the buffered items, and at the close: producers waiting for space. */
  private space: Signal | undefined = undefined
  private closed = false

  /** @param flow the transport, paused at `capacity` and resumed once the loop took what was buffered */
  constructor(readonly capacity: number, private readonly flow: Flow) {}

  /** Adds an item whatever the size; ignored once the inbox is closed. */
  push(item: Item<Custom>): void {
    if (this.closed) return
    this.items.push(item)
    if ((item._tag === "TextMessage" || item._tag === "BinaryMessage") && this.items.length >= this.capacity) {
      if (!this.paused) {
        this.paused = true
        Metrics.pressed("pause")
        this.flow.pause()
      }
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

  /** Everything buffered (maybe nothing), in order. */
  takeAll(): ReadonlyArray<Item<Custom>> {
    const batch = this.items
    if (batch.length === 0) return nothing
    this.items = []
    this.space?.wake()
    if (this.paused) {
      this.paused = false
      this.flow.resume()
    }
    return batch
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
    this.space?.wake()
  }
}
