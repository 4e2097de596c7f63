import * as Effect from "effect/Effect"

/** Fibers waiting for a change; each looks again at its own condition when woken. */
export class Signal {
  private waiters: Array<(effect: Effect.Effect<void>) => void> = []

  /** Succeeds at the next `wake`. */
  readonly next: Effect.Effect<void> = Effect.async<void>((resume) => {
    this.waiters.push(resume)
    return Effect.sync(() => {
      this.waiters = this.waiters.filter((waiter) => waiter !== resume)
    })
  })

  /** Succeeds once `ready()` holds. */
  until(ready: () => boolean): Effect.Effect<void> {
    return Effect.suspend(() => (ready() ? Effect.void : Effect.zipRight(this.next, this.until(ready))))
  }

  wake(): void {
    if (this.waiters.length === 0) return
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter(Effect.void)
  }
}
