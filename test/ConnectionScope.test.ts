// The connection's Scope, made on first use, behaves as Effect's own.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, ExecutionStrategy, Exit, Fiber, Ref, Scope } from "effect"
import { ConnectionScope } from "../src/internal/scope.js"

describe("ConnectionScope", () => {
  it.effect("finalizers run once, in reverse order, at close", () =>
    Effect.gen(function*() {
      const scope = new ConnectionScope()
      const ran = yield* Ref.make<Array<string>>([])
      yield* Scope.addFinalizer(scope, Ref.update(ran, (all) => [...all, "first"]))
      yield* Scope.addFinalizer(scope, Ref.update(ran, (all) => [...all, "second"]))
      yield* Scope.close(scope, Exit.void)
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* Ref.get(ran), ["second", "first"])
    }))

  it.effect("a scope closed before anything used it runs a later finalizer at once, with its exit", () =>
    Effect.gen(function*() {
      const scope = new ConnectionScope()
      yield* Scope.close(scope, Exit.fail("gone"))
      const seen = yield* Deferred.make<Exit.Exit<unknown, unknown>>()
      yield* Scope.addFinalizerExit(scope, (exit) => Deferred.succeed(seen, exit))
      assert.deepStrictEqual(yield* Deferred.await(seen), Exit.fail("gone"))
    }))

  it.effect("forkScoped ties a fiber to it; after the close a forked fiber is interrupted at once", () =>
    Effect.gen(function*() {
      const scope = new ConnectionScope()
      const fiber = yield* Effect.forkScoped(Effect.never).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(fiber)))
      const late = yield* Effect.forkScoped(Effect.never).pipe(Scope.extend(scope))
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(late)))
    }))

  it.effect("a forked child scope closes with it", () =>
    Effect.gen(function*() {
      const scope = new ConnectionScope()
      const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const closed = yield* Deferred.make<void>()
      yield* Scope.addFinalizer(child, Deferred.succeed(closed, undefined))
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(yield* Deferred.isDone(closed))
    }))
})
