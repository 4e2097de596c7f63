/**
 * A connection's message rate limit: token buckets for messages and bytes, refilled continuously at
 * their rate up to their burst. Plain arithmetic on times the caller reads from its clock: no timers,
 * no Effect, so the same limiter serves every driver and is tested with numbers alone.
 */

/** What the route's `rateLimit` option resolves to; a rate of `Infinity` leaves that bucket out. */
export interface RateSettings {
  /** Messages per second, on average. */
  readonly messagesPerSecond: number
  /** Messages at once above the rate: the messages bucket's size. */
  readonly messageBurst: number
  /** Bytes per second, on average, as counted on the wire. */
  readonly bytesPerSecond: number
  /** Bytes at once above the rate: the bytes bucket's size, at least the largest message allowed. */
  readonly byteBurst: number
  /** What a message over the limit gets: the connection closed (1008), the message dropped, or reading paused. */
  readonly onExceeded: "close" | "drop" | "pause"
}

/** One bucket: `tokens` may go below zero when a message is charged whatever the limit (`pause`). */
class Bucket {
  private tokens: number
  private readonly perMilli: number

  constructor(perSecond: number, private readonly burst: number, private last: number) {
    this.tokens = burst
    this.perMilli = perSecond / 1000
  }

  refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMilli)
      this.last = now
    }
  }

  has(cost: number): boolean {
    return this.tokens >= cost
  }

  take(cost: number): void {
    this.tokens -= cost
  }

  /** Milliseconds until the bucket holds `need` tokens (0 when it does). */
  wait(need: number): number {
    return this.tokens >= need ? 0 : Math.ceil((need - this.tokens) / this.perMilli)
  }
}

export class RateLimit {
  private readonly messages: Bucket | undefined
  private readonly bytes: Bucket | undefined

  /** @param now the connection's clock when it opened, in milliseconds */
  constructor(readonly settings: RateSettings, now: number) {
    this.messages = Number.isFinite(settings.messagesPerSecond)
      ? new Bucket(settings.messagesPerSecond, settings.messageBurst, now)
      : undefined
    this.bytes = Number.isFinite(settings.bytesPerSecond)
      ? new Bucket(settings.bytesPerSecond, settings.byteBurst, now)
      : undefined
  }

  /** Takes a message of `size` bytes at `now` if both buckets hold enough for it; otherwise takes nothing. */
  admit(now: number, size: number): boolean {
    const { bytes, messages } = this
    messages?.refill(now)
    bytes?.refill(now)
    if ((messages !== undefined && !messages.has(1)) || (bytes !== undefined && !bytes.has(size))) return false
    messages?.take(1)
    bytes?.take(size)
    return true
  }

  /**
   * Takes a message of `size` bytes at `now` whatever the limit, and returns how many milliseconds
   * the peer must wait until it is within the limit again (0 when it still is): until one more
   * message fits, and the bytes bucket is out of debt (the next message's size is not known).
   */
  charge(now: number, size: number): number {
    const { bytes, messages } = this
    messages?.refill(now)
    bytes?.refill(now)
    messages?.take(1)
    bytes?.take(size)
    return this.wait(now)
  }

  /** Milliseconds from `now` until the peer is within the limit again (0 when it is). */
  wait(now: number): number {
    const { bytes, messages } = this
    messages?.refill(now)
    bytes?.refill(now)
    return Math.max(messages?.wait(1) ?? 0, bytes?.wait(0) ?? 0)
  }
}
