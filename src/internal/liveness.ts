/**
 * Liveness of one connection: the heartbeat (a ping, then a pong within a timeout) and the idle
 * timeout (no data frame either way). Timers run on the Effect `Clock`, so `TestClock` drives them.
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Close from "./close.js"
import type { Timeout } from "./inbox.js"
import type { Transport } from "./transport.js"

/** Where a timeout is reported: the connection's inbox. */
export interface Reporter {
  push(item: Timeout): void
}

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

const timedOut = (transport: Transport, inbox: Reporter, reason: string) =>
  Effect.sync(() => {
    transport.close(Close.GoingAway, reason)
    inbox.push({ _tag: "Timeout", code: Close.GoingAway, reason })
  })

const heartbeat = (
  liveness: Liveness,
  transport: Transport,
  inbox: Reporter,
  interval: Duration.Duration,
  timeout: Duration.Duration
) =>
  Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(interval)
      if (!transport.isOpen()) return
      liveness.awaitingPong = true
      transport.ping()
      yield* Effect.sleep(timeout)
      if (liveness.awaitingPong) return yield* timedOut(transport, inbox, "heartbeat timeout")
    }
  })

const idle = (liveness: Liveness, transport: Transport, inbox: Reporter, limit: Duration.Duration) =>
  Effect.gen(function*() {
    const limitMillis = Duration.toMillis(limit)
    while (true) {
      const elapsed = (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) - liveness.lastActivity
      if (elapsed >= limitMillis) return yield* timedOut(transport, inbox, "idle timeout")
      yield* Effect.sleep(Duration.millis(limitMillis - elapsed))
    }
  })

/** Watches a connection until it times out (then closes it and tells the loop) or is interrupted. */
export const watch = (
  liveness: Liveness,
  transport: Transport,
  inbox: Reporter,
  settings: Settings
): Effect.Effect<void> => {
  const watchers: Array<Effect.Effect<void>> = []
  if (settings.heartbeat !== false) {
    watchers.push(heartbeat(liveness, transport, inbox, settings.heartbeat.interval, settings.heartbeat.timeout))
  }
  if (settings.idleTimeout !== false) watchers.push(idle(liveness, transport, inbox, settings.idleTimeout))
  return watchers.length === 0 ? Effect.void : Effect.raceAll(watchers)
}
