/**
 * The bookkeeping of a connection's inbox, with no Effect and no transport: what it holds, in order,
 * and when the transport must stop or start reading from the peer. The driver (`../inbox.ts`) turns
 * the answers into `pause` and `resume` calls, and wakes the loop and waiting producers.
 *
 * Reading stops while the queue holds `capacity` items or more, while the peer's messages it holds
 * come to `byteLimit` bytes or more, or while the peer is throttled (over its rate limit); it starts
 * again once none of these holds. A message's bytes count from its arrival until the loop has
 * handled the batch it was taken in, so the byte bound covers the messages waiting and those being
 * handled; at most one batch is out at a time.
 */
const nothing: ReadonlyArray<never> = []

export class Queue<Item> {
  private items: Array<Item> = []
  /** Bytes of the peer's messages waiting in `items`, and in the batch the loop took last. */
  private queuedBytes = 0
  private takenBytes = 0
  private paused = false
  private throttled = false
  private closed = false

  constructor(readonly capacity: number, readonly byteLimit: number) {}

  /**
   * Adds an item of `bytes` on the wire (whatever the size: it was already read); `data` is whether it
   * is a message of the peer, which alone can stop reading. Returns whether reading must stop now.
   * Ignored, and `false`, once the queue is closed.
   */
  push(item: Item, bytes: number, data: boolean): boolean {
    if (this.closed) return false
    this.items.push(item)
    this.queuedBytes += bytes
    if (this.paused || !data || !this.full()) return false
    this.paused = true
    return true
  }

  /** Whether a producer that can wait (a selector stream) may add an item now. */
  hasSpace(): boolean {
    return this.items.length < this.capacity || this.closed
  }

  isEmpty(): boolean {
    return this.items.length === 0
  }

  /** Everything held (maybe nothing), in order. Then `resumes` says whether reading starts again. */
  takeAll(): ReadonlyArray<Item> {
    const batch = this.items
    if (batch.length === 0) return nothing
    this.items = []
    this.takenBytes += this.queuedBytes
    this.queuedBytes = 0
    return batch
  }

  /** The loop has handled the batch it took last: its bytes no longer count. */
  handled(): void {
    this.takenBytes = 0
  }

  /** The peer is over its rate limit: returns whether reading must stop now. */
  throttle(): boolean {
    this.throttled = true
    if (this.paused) return false
    this.paused = true
    return true
  }

  /** The peer is within its rate limit again. Then `resumes` says whether reading starts again. */
  unthrottle(): void {
    this.throttled = false
  }

  /** Whether reading, stopped, starts again now: no limit holds any more. */
  resumes(): boolean {
    if (!this.paused || this.throttled || this.full()) return false
    this.paused = false
    return true
  }

  /** Drops what is held and refuses more. */
  close(): void {
    this.closed = true
    this.items = []
    this.queuedBytes = 0
    this.takenBytes = 0
  }

  private full(): boolean {
    return this.items.length >= this.capacity || this.queuedBytes + this.takenBytes >= this.byteLimit
  }
}
