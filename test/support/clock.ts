/** Helpers for tests that move a clock: waiting for sleepers, and counting sleeps. */
import { Chunk, Clock, Duration, Effect, TestClock } from "effect"

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
      if (--left <= 0) return Effect.dieMessage(`${what}: not within ${turns} turns`)
      return Effect.zipRight(Effect.yieldNow(), loop)
    })
    return loop
  })

/**
 * Waits until a fiber sleeps until exactly `delay` from now on the TestClock (a timer just armed),
 * so that `TestClock.adjust(delay)` wakes it rather than racing it.
 */
export const sleeperIn = (delay: Duration.DurationInput): Effect.Effect<void> =>
  Effect.flatMap(TestClock.currentTimeMillis, (now) => {
    const at = now + Duration.toMillis(Duration.decode(delay))
    return eventually(
      `a timer for ${Duration.format(Duration.decode(delay))} from now`,
      Effect.map(TestClock.sleeps(), (sleeps) => (Chunk.some(sleeps, (wake) => wake === at) ? true : undefined))
    )
  })
