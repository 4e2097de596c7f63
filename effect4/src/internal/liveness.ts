/**
 * Liveness of connections: the heartbeat (a ping, then a pong within a timeout) and the idle timeout
 * (no data frame either way). Timers run on the Effect `Clock`, so `TestClock` drives them.
 *
 * An idle connection parks no fiber for its timers: every connection of one route (one
 * `upgradeWebSocket` call, so one set of settings) that runs on the same `Clock` is checked by one
 * sweep fiber, which sleeps until the nearest deadline among them. The sweep runs only while it has
 * connections to watch.
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Close from "./core/close.js"
import * as Core from "./core/liveness.js"
import * as Metrics from "./metrics.js"
import { closeAndReport, type Report, type Transport } from "./transport.js"

export interface Settings {
  readonly heartbeat: { readonly interval: Duration.Duration; readonly timeout: Duration.Duration } | false
  readonly idleTimeout: Duration.Duration | false
}

/**
 * One connection's liveness: what the transport and the sends report (data frames either way, pongs)
 * goes to the core's `Deadlines` (core/liveness.ts), checked by the route's sweep once the
 * connection's first turn started it. A timeout closes the transport and reports the close to
 * `report`, the connection's inbox.
 */
export class Liveness {
  /** The clock of the sweep that watches this connection; `undefined` until `start`. */
  clock: Clock.Clock | undefined = undefined
  private readonly deadlines = new Core.Deadlines()

  constructor(private readonly transport: Transport, private readonly report: Report) {}

  /** Starts the timers from now: the first ping is due one interval later. */
  start(clock: Clock.Clock, timing: Core.Timing): void {
    this.clock = clock
    this.deadlines.start(clock.currentTimeMillisUnsafe(), timing)
  }

  touch(): void {
    if (this.clock !== undefined) this.deadlines.touch(this.clock.currentTimeMillisUnsafe())
  }

  pong(): void {
    this.deadlines.pong()
  }

  /**
   * Acts on what is due at `now` (a ping, a heartbeat or idle timeout) and returns the time of the
   * next deadline, or -1 once there is nothing more to watch (timed out, or the transport closing).
   */
  check(now: number, timing: Core.Timing): number {
    switch (this.deadlines.due(now, timing)) {
      case "idle":
        return this.timedOut("idle timeout", "idle")
      case "heartbeat":
        return this.timedOut("heartbeat timeout", "heartbeat")
      case "ping":
        if (!this.transport.isOpen()) return -1
        this.transport.ping()
    }
    return this.deadlines.next(timing)
  }

  private timedOut(reason: string, kind: Metrics.Timeout): number {
    Metrics.timedOut(kind)
    closeAndReport(this.transport, this.report, { code: Close.GoingAway, reason, initiator: "timeout" })
    return -1
  }
}

/** The connections one sweep fiber watches, all on one clock. */
class Sweep {
  readonly members = new Set<Liveness>()
  /** The running sweep fiber, if any; a fiber that is no longer this one stops at its next wake-up. */
  fiber: Fiber.Fiber<void> | undefined = undefined
  running: object | undefined = undefined
}

/** One route's liveness timers: a sweep per `Clock` its connections run on (one, outside tests). */
export class Sweeper {
  private readonly timing: Core.Timing | undefined
  private readonly sweeps = new WeakMap<Clock.Clock, Sweep>()

  constructor(settings: Settings) {
    const { heartbeat, idleTimeout } = settings
    this.timing = Core.timing(
      heartbeat === false
        ? undefined
        : { interval: Duration.toMillis(heartbeat.interval), timeout: Duration.toMillis(heartbeat.timeout) },
      idleTimeout === false ? undefined : Duration.toMillis(idleTimeout)
    )
  }

  /** Starts watching a connection whose transport is open; its timers start now. */
  add(liveness: Liveness): Effect.Effect<void> {
    const timing = this.timing
    if (timing === undefined) return Effect.void
    return Effect.clockWith((clock) => {
      liveness.start(clock, timing)
      let sweep = this.sweeps.get(clock)
      if (sweep === undefined) {
        sweep = new Sweep()
        this.sweeps.set(clock, sweep)
      }
      sweep.members.add(liveness)
      // a new connection's first deadline is later than every deadline the running sweep waits for
      // (the settings are the same for all), so the sweep never needs waking early
      if (sweep.running !== undefined) return Effect.void
      const running = sweep
      const token = {}
      running.running = token
      // a root fiber that sleeps on the connection's clock: a fiber forked from the connection would
      // keep its context (the request, the handlers' services) for as long as the sweep runs
      const fiber = Effect.runFork(this.run(running, token, clock, timing))
      // the sweep may already have found nothing to watch and ended
      if (running.running === token) running.fiber = fiber
      return Effect.void
    })
  }

  /** Stops watching a connection (if it was watched); the sweep stops once it watches none. */
  remove(liveness: Liveness): void {
    const sweep = liveness.clock === undefined ? undefined : this.sweeps.get(liveness.clock)
    if (sweep === undefined || !sweep.members.delete(liveness) || sweep.members.size > 0) return
    const fiber = sweep.fiber
    sweep.fiber = undefined
    sweep.running = undefined
    // a sleeping sweep would keep the process alive until its next deadline
    fiber?.interruptUnsafe()
  }

  private run(sweep: Sweep, token: object, clock: Clock.Clock, timing: Core.Timing): Effect.Effect<void> {
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (sweep.running !== token) return Effect.void
      const now = clock.currentTimeMillisUnsafe()
      let next = Number.POSITIVE_INFINITY
      for (const member of sweep.members) {
        const deadline = member.check(now, timing)
        if (deadline < 0) sweep.members.delete(member)
        else if (deadline < next) next = deadline
      }
      if (sweep.members.size === 0) {
        sweep.fiber = undefined
        sweep.running = undefined
        return Effect.void
      }
      return Effect.andThen(clock.sleep(Duration.millis(Math.max(next, now + timing.gap) - now)), loop)
    })
    return loop
  }
}
