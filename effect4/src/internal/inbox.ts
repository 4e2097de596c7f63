import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { CloseInfo } from "../Connection.js"
import type * as Message from "../Message.js"
import { Queue } from "./core/queue.js"
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

/**
 * Who is told of the next push: the loop itself, not a closure of it, so that an idle connection holds
 * no function made for it.
 */
export interface Waker {
  readonly wake: () => void
}

/** A transport that can stop and restart reading from the peer. */
export interface Flow {
  readonly pause: () => void
  readonly resume: () => void
}

/**
 * One connection's mailbox: transport frames and selector values, in arrival order, kept by the
 * core's `Queue` (core/queue.ts), which says when the transport must stop or start reading.
 *
 * Frames from the transport are always accepted (they were already read off the socket); producers
 * that can wait, the selector streams, suspend while the inbox holds `capacity` items or more. The
 * loop takes everything buffered at once, so a burst costs one turn; while it has nothing to do it
 * waits on a plain callback (`whenNonEmpty`), not a fiber.
 */
export class Inbox<Custom> {
  private readonly queue: Queue<Item<Custom>>
  private next: Waker | undefined = undefined
  /** Woken when the loop takes the buffered items, and at the close: producers waiting for space. */
  private space: Signal | undefined = undefined

  /**
   * @param capacity items held at which the transport stops reading
   * @param byteLimit bytes of the peer's messages held at which the transport stops reading
   * @param flow the transport, paused at a limit and resumed once the loop took or handled what was held
   */
  constructor(capacity: number, byteLimit: number, private readonly flow: Flow) {
    this.queue = new Queue(capacity, byteLimit)
  }

  /** Adds an item of `bytes` on the wire whatever the size; ignored once the inbox is closed. */
  push(item: Item<Custom>, bytes = 0): void {
    if (this.queue.push(item, bytes, item._tag === "TextMessage" || item._tag === "BinaryMessage")) {
      Metrics.pressed("pause")
      this.flow.pause()
    }
    // last: the callback may run the loop right here, which takes the items
    if (this.next !== undefined) {
      const next = this.next
      this.next = undefined
      next.wake()
    }
  }

  /** Adds an item, first waiting while the inbox is at capacity. */
  offer(item: Item<Custom>): Effect.Effect<void> {
    return Effect.andThen(
      (this.space ??= new Signal()).until(() => this.queue.hasSpace()),
      Effect.sync(() => this.push(item))
    )
  }

  isEmpty(): boolean {
    return this.queue.isEmpty()
  }

  /** Everything buffered (maybe nothing), in order; its bytes count until `handled`. */
  takeAll(): ReadonlyArray<Item<Custom>> {
    const batch = this.queue.takeAll()
    if (batch.length === 0) return batch
    this.space?.wake()
    if (this.queue.resumes()) this.flow.resume()
    return batch
  }

  /** The loop has handled the batch it took last. */
  handled(): void {
    this.queue.handled()
    if (this.queue.resumes()) this.flow.resume()
  }

  /** Stops reading until `unthrottle`, whatever the inbox holds: the peer is over its rate limit. */
  throttle(): void {
    if (this.queue.throttle()) this.flow.pause()
  }

  unthrottle(): void {
    this.queue.unthrottle()
    if (this.queue.resumes()) this.flow.resume()
  }

  /** Calls `next.wake()` once, at the next push. */
  whenNonEmpty(next: Waker): void {
    this.next = next
  }

  /** Drops what is buffered and refuses more; waiting producers are released. */
  close(): void {
    this.queue.close()
    this.next = undefined
    this.space?.wake()
  }
}
