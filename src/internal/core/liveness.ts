/**
 * A connection's liveness deadlines, with no clock and no transport: the heartbeat (a ping, then a
 * pong within a timeout) and the idle timeout (no data frame either way). The driver
 * (`../liveness.ts`) reads its clock, asks what is due, does it (ping, or close with 1001), and sleeps
 * until the next deadline.
 */

/** A route's liveness settings in milliseconds. */
export interface Timing {
  readonly heartbeat: boolean
  /** Between two pings; 0 without a heartbeat. */
  readonly interval: number
  /** How long a pong may take; 0 without a heartbeat. */
  readonly timeout: number
  /** Infinite without an idle timeout. */
  readonly idle: number
  /**
   * The shortest gap between two sweeps of one route, so that many connections whose deadlines fall
   * close together cost one sweep: a tenth of the shortest timer, at most 100 ms. A deadline is met
   * within this much.
   */
  readonly gap: number
}

/** The timing of settings in milliseconds (`undefined` for a timer that is off), or `undefined` when none is on. */
export const timing = (
  heartbeat: { readonly interval: number; readonly timeout: number } | undefined,
  idle: number | undefined
): Timing | undefined => {
  if (heartbeat === undefined && idle === undefined) return undefined
  const idleMs = idle ?? Number.POSITIVE_INFINITY
  const shortest = Math.min(
    idleMs,
    heartbeat === undefined ? Number.POSITIVE_INFINITY : Math.min(heartbeat.interval, heartbeat.timeout)
  )
  return {
    heartbeat: heartbeat !== undefined,
    interval: heartbeat?.interval ?? 0,
    timeout: heartbeat?.timeout ?? 0,
    idle: idleMs,
    gap: Math.min(100, shortest / 10)
  }
}

/** What is due: send a ping, or close for a missing pong or for no data. */
export type Due = "ping" | "heartbeat" | "idle"

export class Deadlines {
  private lastActivity = 0
  private awaitingPong = false
  private nextPing = 0
  private pongDue = -1

  /** Starts the timers at `now`: the first ping is due one interval later. */
  start(now: number, timing: Timing): void {
    this.lastActivity = now
    this.nextPing = now + timing.interval
  }

  /** A data frame went either way at `now`. */
  touch(now: number): void {
    this.lastActivity = now
  }

  /** The peer answered a ping (or sent a pong of its own, which proves as much). */
  pong(): void {
    this.awaitingPong = false
    this.pongDue = -1
  }

  /**
   * What is due at `now`, if anything. A ping is due every `interval`, and counts as sent: its pong
   * is awaited for `timeout`, and no other ping goes out meanwhile (with a `timeout` longer than the
   * `interval`, the next ping waits for the pong). A pong that does not come in time ends the watch:
   * a peer that goes silent is closed between `timeout` and `interval + timeout` after its last pong.
   */
  due(now: number, timing: Timing): Due | undefined {
    if (now - this.lastActivity >= timing.idle) return "idle"
    if (!timing.heartbeat) return undefined
    if (this.awaitingPong) return now >= this.pongDue ? "heartbeat" : undefined
    if (now < this.nextPing) return undefined
    this.awaitingPong = true
    this.pongDue = now + timing.timeout
    this.nextPing = Math.max(this.nextPing + timing.interval, now)
    return "ping"
  }

  /** The time of the next deadline. */
  next(timing: Timing): number {
    return Math.min(
      this.lastActivity + timing.idle,
      timing.heartbeat ? (this.awaitingPong ? this.pongDue : this.nextPing) : Number.POSITIVE_INFINITY
    )
  }
}
