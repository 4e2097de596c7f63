/**
 * A connection's `Scope`. What `onInit` acquires lives until the connection is over, but most
 * connections acquire nothing: this scope makes Effect's own (an object, its state and a map of
 * finalizers) on first use, so an idle connection that never used it keeps one small object.
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import type * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"

/**
 * Effect calls `addFinalizer`, `fork` and `close` on a scope (the methods its interface hides), and
 * `forkIn` its `state`; all of them reach Effect's own scope, made on first use.
 */
export class ConnectionScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: typeof Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: typeof Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  /** Effect's scope, once something used this one. */
  private real: Scope.CloseableScope | undefined = undefined
  /** How it closed, if it did before anything used it. */
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }

  /** Effect's scope, made now if need be (closed at once if this one already closed). */
  private realScope(): Scope.CloseableScope {
    if (this.real === undefined) {
      this.real = Effect.runSync(Scope.make())
      if (this.closedWith !== undefined) Effect.runSync(Scope.close(this.real, this.closedWith))
    }
    return this.real
  }

  /**
   * Effect's `forkIn` (behind `Effect.forkScoped`) reads and writes a scope's `state` directly: the
   * real one's. test/support/semantics.ts covers forkScoped on both transports.
   */
  get state(): unknown {
    return (this.realScope() as unknown as { readonly state: unknown }).state
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.suspend(() =>
      this.real === undefined && this.closedWith !== undefined
        ? finalizer(this.closedWith)
        : Scope.addFinalizerExit(this.realScope(), finalizer)
    )
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.suspend(() => Scope.fork(this.realScope(), strategy))
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.real !== undefined) return Scope.close(this.real, exit)
      if (this.closedWith === undefined) this.closedWith = exit
      return Effect.void
    })
  }
}
