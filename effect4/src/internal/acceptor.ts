import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Accept, Acceptor as AcceptorService, Transport } from "../Acceptor.js"
import type { CloseInfo } from "../Connection.js"

export const TypeId: unique symbol = Symbol.for("effect-websocket/Acceptor")

/** An open connection, as its owner sees it. */
export interface Open {
  /** Closes the connection with 1001 and waits until it is over. */
  readonly shutdown: () => Effect.Effect<void>
}

/**
 * Accepts connections and keeps them until its scope closes: the route returns once the handshake is
 * done, and an idle connection is an entry here, not a fiber.
 */
export class AcceptorImpl implements AcceptorService {
  readonly [TypeId]: typeof TypeId = TypeId
  /** Set when the scope starts closing: the server is shutting down and takes no more connections. */
  closing = false
  private readonly open = new Set<Open>()

  /**
   * What the routes' per-server state (connection limits, liveness sweeps) is kept by: the acceptor
   * itself, or a key several acceptors share (the test kit's clients are connections of one server).
   */
  readonly server: object

  constructor(
    readonly accept: Accept,
    readonly onEnded: ((transport: Transport, info: CloseInfo) => void) | undefined,
    server: object | undefined
  ) {
    this.server = server ?? this
  }

  add(connection: Open): void {
    this.open.add(connection)
  }

  remove(connection: Open): void {
    this.open.delete(connection)
  }

  /**
   * Takes no more connections, closes every open one (1001, `onClose`) and waits for them all. The
   * first caller runs it; later callers (the server's scope after `serve`'s) find nothing left open.
   */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.closing = true
    return Effect.forEach(Array.from(this.open), (connection) => connection.shutdown(), {
      concurrency: "unbounded",
      discard: true
    })
  })
}

export const Acceptor: Context.Service<AcceptorService, AcceptorService> = Context.Service<AcceptorService>(
  "effect-websocket/Acceptor"
)

export const make = (
  accept: Accept,
  options?: {
    readonly onShutdown?: Effect.Effect<void> | undefined
    readonly onEnded?: ((transport: Transport, info: CloseInfo) => void) | undefined
    readonly server?: object | undefined
  }
): Effect.Effect<AcceptorService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const acceptor = new AcceptorImpl(accept, options?.onEnded, options?.server)
    // no new connection may slip in while the open ones close
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        acceptor.closing = true
        return Effect.andThen(options?.onShutdown ?? Effect.void, acceptor.shutdown)
      })
    )
    return acceptor
  })
