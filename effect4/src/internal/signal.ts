import * as Effect from "effect/Effect"

/** Fibers waiting for a change; each looks again at its own condition when woken. */
export class Signal {
  /** Allocated by the first wait: most signals of idle connections never have one. */
  private waiters: Array<(effect: Effect.Effect<void>) => void> | undefined = undefined

  /** Succeeds at the next `wake`. */
  next(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      ;(this.waiters ??= []).push(resume)
      return Effect.sync(() => {
        this.waiters = this.waiters?.filter((waiter) => waiter !== resume)
      })
    })
  }

  /** Succeeds once `ready()` holds. */
  until(ready: () => boolean): Effect.Effect<void> {
    return Effect.suspend(() => (ready() ? Effect.void : Effect.andThen(this.next(), this.until(ready))))
  }

  wake(): void {
    const waiters = this.waiters
    if (waiters === undefined || waiters.length === 0) return
    this.waiters = undefined
    for (const waiter of waiters) waiter(Effect.void)
  }
}
