import * as Effect from "effect/Effect"
import type * as Cause from "effect/Cause"
import type { CloseInfo } from "../Connection.js"
import type * as Message from "../Message.js"
import { Liveness } from "./liveness.js"
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

/**
 * One connection's mailbox: transport frames and selector values, in arrival order.
 *
 * Frames from the transport are always accepted (they were already read off the socket), but at
 * `capacity` the inbox asks the transport to stop reading, so the peer feels TCP backpressure, and
 * resumes it once the loop has taken what was buffered. Producers that can wait, the selector
 * streams, suspend while the inbox holds `capacity` items or more. The loop takes everything buffered
 * at each wake-up, so a burst costs one wake-up.
 */
export class Inbox<Custom> {
  readonly liveness = new Liveness()
  /** Set once the transport exists. */
  flow: Flow | undefined = undefined
  private paused = false
  private items: Array<Item<Custom>> = []
  private taker: ((effect: Effect.Effect<ReadonlyArray<Item<Custom>>>) => void) | undefined = undefined
  /** Woken when the loop takes the buffered items, and at the close: producers waiting for space. */
  private readonly space = new Signal()
  private closed = false

  constructor(readonly capacity: number) {}

  /** Adds an item whatever the size; ignored once the inbox is closed. */
  push(item: Item<Custom>): void {
    if (this.closed) return
    this.items.push(item)
    if (item._tag === "TextMessage" || item._tag === "BinaryMessage") {
      this.liveness.touch()
      if (this.items.length >= this.capacity && !this.paused && this.flow !== undefined) {
        this.paused = true
        this.flow.pause()
      }
    }
    if (this.taker !== undefined) {
      const taker = this.taker
      this.taker = undefined
      taker(this.drain)
    }
  }

  /** Adds an item, first waiting while the inbox is at capacity. */
  offer(item: Item<Custom>): Effect.Effect<void> {
    return Effect.zipRight(
      this.space.until(() => this.items.length < this.capacity || this.closed),
      Effect.sync(() => this.push(item))
    )
  }

  /** Everything buffered, waiting for at least one item. */
  readonly take: Effect.Effect<ReadonlyArray<Item<Custom>>> = Effect.suspend(() =>
    this.items.length > 0 ? this.drain : this.wait
  )

  /**
   * Built once, and registers no canceler: Effect then parks the loop without wrapping the wait in an
   * interruption handler, which is most of the cost of a wake-up. Should the loop be interrupted while
   * parked, the stale `taker` stays set; calling it later does nothing (Effect ignores a resume after
   * the interruption), and the items stay buffered.
   */
  private readonly wait: Effect.Effect<ReadonlyArray<Item<Custom>>> = Effect.async<ReadonlyArray<Item<Custom>>>(
    (resume) => {
      this.taker = resume
    }
  )

  /** The peer answered a ping. */
  pong(): void {
    this.liveness.pong()
  }

  /** Drops what is buffered and refuses more; waiting producers are released. */
  close(): void {
    this.closed = true
    this.items = []
    this.space.wake()
  }

  private readonly drain: Effect.Effect<ReadonlyArray<Item<Custom>>> = Effect.sync(() => {
    const batch = this.items
    this.items = []
    this.space.wake()
    if (this.paused) {
      this.paused = false
      this.flow?.resume()
    }
    return batch
  })
}
