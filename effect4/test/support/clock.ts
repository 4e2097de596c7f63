/** Helpers for tests that move a clock: waiting for sleepers, and counting sleeps. */
import type { Clock } from "effect"
import { Duration, Effect } from "effect"

/**
 * The wake-up times of the sleeps pending on `clock`. Effect 4's `TestClock` has no `sleeps()`: this
 * reads the sleeps its implementation keeps (the `TestClock` that `it.effect` provides), and fails the
 * test when the clock is another one.
 */
const pendingSleeps = (clock: Clock.Clock): ReadonlyArray<number> => {
  const sleeps = (clock as { readonly sleeps?: unknown }).sleeps
  if (!Array.isArray(sleeps)) throw new Error("sleepers: the current Clock is not the TestClock of it.effect")
  return sleeps.map((entry: { readonly timestamp: number }) => entry.timestamp)
}

/**
 * Waits until at least `n` fibers sleep on the TestClock, so that adjusting it does not race them
 * (a fiber that has not yet gone to sleep would miss the adjustment). Succeeds with the sleeps' wake-up times.
 */
export const sleepers = (n: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.clockWith((clock) => Effect.sync(() => pendingSleeps(clock))).pipe(
    Effect.tap(() => Effect.yieldNow),
    Effect.repeat({ until: (sleeps) => sleeps.length >= n })
  )

/**
 * A clock that counts the sleeps in progress and records the duration (in milliseconds) of every sleep
 * started, delegating time and sleeping to another clock.
 *
 * - `counting(inner)`: the counting clock over `inner` (to provide as `Clock.Clock`).
 * - `sleeping()`: how many sleeps are in progress now.
 * - `started`: the durations of the sleeps started so far, in order.
 */
export const countingClock = () => {
  let sleeping = 0
  const started: Array<number> = []
  const counting = (inner: Clock.Clock): Clock.Clock => ({
    currentTimeMillisUnsafe: () => inner.currentTimeMillisUnsafe(),
    currentTimeMillis: inner.currentTimeMillis,
    currentTimeNanosUnsafe: () => inner.currentTimeNanosUnsafe(),
    currentTimeNanos: inner.currentTimeNanos,
    monotonicTimeNanosUnsafe: () => inner.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: inner.monotonicTimeNanos,
    sleep: (duration) =>
      Effect.suspend(() => {
        sleeping++
        started.push(Duration.toMillis(duration))
        return Effect.ensuring(inner.sleep(duration), Effect.sync(() => sleeping--))
      })
  })
  return { counting, sleeping: () => sleeping, started }
}

/**
 * Runs `check` until it gives a value, letting other fibers run in between; dies after `turns` turns.
 * For what in-memory fibers do without the clock (a frame crossing the test kit), never for a timer.
 */
export const eventually = <A>(
  what: string,
  check: Effect.Effect<A | undefined>,
  turns = 10_000
): Effect.Effect<A> =>
  Effect.suspend(() => {
    let left = turns
    const loop: Effect.Effect<A> = Effect.flatMap(check, (value) => {
      if (value !== undefined) return Effect.succeed(value)
      if (--left <= 0) return Effect.die(new Error(`${what}: not within ${turns} turns`))
      return Effect.andThen(Effect.yieldNow, loop)
    })
    return loop
  })

/**
 * Waits until a fiber sleeps until exactly `delay` from now on the TestClock (a timer just armed),
 * so that `TestClock.adjust(delay)` wakes it rather than racing it.
 */
export const sleeperIn = (delay: Duration.Input): Effect.Effect<void> =>
  Effect.clockWith((clock) => {
    const duration = Duration.fromInputUnsafe(delay)
    const at = clock.currentTimeMillisUnsafe() + Duration.toMillis(duration)
    return eventually(
      `a timer for ${Duration.format(duration)} from now`,
      Effect.sync(() => (pendingSleeps(clock).includes(at) ? true : undefined))
    )
  })
