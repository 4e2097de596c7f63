/**
 * Liveness of one connection: the heartbeat (a ping, then a pong within a timeout) and the idle
 * timeout (no data frame either way). Timers run on the Effect `Clock`, so `TestClock` drives them.
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Close from "./close.js"
import { closeAndReport, type Sink, type Transport } from "./transport.js"

export interface Settings {
  readonly heartbeat: { readonly interval: Duration.Duration; readonly timeout: Duration.Duration } | false
  readonly idleTimeout: Duration.Duration | false
}

/** What the transport and the sends report: data frames either way, and pongs. */
export class Liveness {
  private clock: Clock.Clock | undefined = undefined
  lastActivity = 0
  awaitingPong = false

  start(clock: Clock.Clock): void {
    this.clock = clock
    this.lastActivity = clock.unsafeCurrentTimeMillis()
  }

  touch(): void {
    if (this.clock !== undefined) this.lastActivity = this.clock.unsafeCurrentTimeMillis()
  }

  pong(): void {
    this.awaitingPong = false
  }
}

const timedOut = (transport: Transport, inbox: Sink, reason: string) =>
  Effect.sync(() => closeAndReport(transport, inbox, { code: Close.GoingAway, reason, initiator: "timeout" }))

/**
 * Watches a connection until it times out (then closes it and tells the loop) or is interrupted. One
 * fiber per connection handles both timers: it sleeps until the nearest deadline. The heartbeat pings
 * `interval` after the previous heartbeat completed and checks for the pong `timeout` later.
 */
export const watch = (
  liveness: Liveness,
  transport: Transport,
  inbox: Sink,
  settings: Settings
): Effect.Effect<void> => {
  const { heartbeat, idleTimeout } = settings
  if (heartbeat === false && idleTimeout === false) return Effect.void
  const interval = heartbeat === false ? 0 : Duration.toMillis(heartbeat.interval)
  const timeout = heartbeat === false ? 0 : Duration.toMillis(heartbeat.timeout)
  const idle = idleTimeout === false ? Number.POSITIVE_INFINITY : Duration.toMillis(idleTimeout)
  return Effect.clockWith((clock) =>
    Effect.gen(function*() {
      let nextPing = clock.unsafeCurrentTimeMillis() + interval
      let pongDue: number | undefined = undefined
      while (true) {
        const now = clock.unsafeCurrentTimeMillis()
        if (now - liveness.lastActivity >= idle) return yield* timedOut(transport, inbox, "idle timeout")
        if (heartbeat !== false) {
          if (pongDue !== undefined && now >= pongDue) {
            if (liveness.awaitingPong) return yield* timedOut(transport, inbox, "heartbeat timeout")
            nextPing = pongDue + interval
            pongDue = undefined
          }
          if (pongDue === undefined && now >= nextPing) {
            if (!transport.isOpen()) return
            liveness.awaitingPong = true
            transport.ping()
            pongDue = now + timeout
          }
        }
        const wake = Math.min(
          liveness.lastActivity + idle,
          heartbeat === false ? Number.POSITIVE_INFINITY : pongDue ?? nextPing
        )
        yield* Effect.sleep(Duration.millis(Math.max(0, wake - now)))
      }
    })
  )
}
