import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import type { Accept, Acceptor as AcceptorService, Transport } from "../Acceptor.js"
import type { CloseInfo } from "../Connection.js"

export const TypeId: unique symbol = Symbol.for("effect-websocket/Acceptor")

/**
 * Accepts connections and keeps them: each runs as a fiber of a `FiberSet` in the acceptor's scope,
 * not of the request that opened it, so the route returns once the handshake is done.
 */
export class AcceptorImpl implements AcceptorService {
  readonly [TypeId]: typeof TypeId = TypeId
  /** Set when the scope starts closing: the server is shutting down and takes no more connections. */
  closing = false

  constructor(
    readonly accept: Accept,
    private readonly connections: FiberSet.FiberSet<void>,
    readonly onEnded: ((transport: Transport, info: CloseInfo) => void) | undefined
  ) {}

  /**
   * Runs `connection` until it is over, in the acceptor's scope, with the caller's context. The fiber
   * starts uninterruptible, so that a shutdown right after the fork still lets `connection` begin and
   * finish the connection; `connection` decides where it may be interrupted.
   */
  run<R>(connection: Effect.Effect<void, never, R>): Effect.Effect<void, never, R> {
    return Effect.asVoid(Effect.uninterruptible(FiberSet.run(this.connections, connection)))
  }
}

export const Acceptor = Context.GenericTag<AcceptorService>("effect-websocket/Acceptor")

export const make = (
  accept: Accept,
  options?: {
    readonly onShutdown?: Effect.Effect<void> | undefined
    readonly onEnded?: ((transport: Transport, info: CloseInfo) => void) | undefined
  }
): Effect.Effect<AcceptorService, never, Scope.Scope> =>
  Effect.gen(function*() {
    // released last: interrupts every connection (1001, onClose) and waits for them
    const connections = yield* FiberSet.make<void>()
    const acceptor = new AcceptorImpl(accept, connections, options?.onEnded)
    // released first: no new connection may slip in while the open ones close
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        acceptor.closing = true
        return options?.onShutdown ?? Effect.void
      })
    )
    return acceptor
  })
