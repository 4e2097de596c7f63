/** Helpers for tests that move a clock: waiting for sleepers, and counting sleeps. */
import { Clock, Duration, Effect, TestClock } from "effect"

/**
 * Waits until at least `n` fibers sleep on the TestClock, so that adjusting it does not race them
 * (a fiber that has not yet gone to sleep would miss the adjustment). Succeeds with the sleeps' wake-up times.
 */
export const sleepers = (n: number) =>
  TestClock.sleeps().pipe(Effect.zipLeft(Effect.yieldNow()), Effect.repeat({ until: (sleeps) => sleeps.length >= n }))

/**
 * A clock that counts the sleeps in progress and records the duration (in milliseconds) of every sleep
 * started, delegating time and sleeping to another clock.
 *
 * - `counting(inner)`: the counting clock over `inner` (for `Effect.withClock`).
 * - `sleeping()`: how many sleeps are in progress now.
 * - `started`: the durations of the sleeps started so far, in order.
 */
export const countingClock = () => {
  let sleeping = 0
  const started: Array<number> = []
  const counting = (inner: Clock.Clock): Clock.Clock => ({
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => inner.unsafeCurrentTimeMillis(),
    currentTimeMillis: inner.currentTimeMillis,
    unsafeCurrentTimeNanos: () => inner.unsafeCurrentTimeNanos(),
    currentTimeNanos: inner.currentTimeNanos,
    sleep: (duration) =>
      Effect.suspend(() => {
        sleeping++
        started.push(Duration.toMillis(duration))
        return Effect.ensuring(inner.sleep(duration), Effect.sync(() => sleeping--))
      })
  })
  return { counting, sleeping: () => sleeping, started }
}
