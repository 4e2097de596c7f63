/**
 * Several broadcast nodes in one process, on an in-memory backplane: what the test kit offers to test
 * an app's cluster behaviour (a publish on one server reaching another, presence across servers, a
 * server killed, the store restarted empty) without Redis, on the test's clock.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as internal from "./broadcast.js"
import { MemoryPresenceBackplane, type MemoryPresenceStore } from "./core/presenceMemory.js"
import * as Presence from "./presence.js"

export interface Node {
  readonly id: string
  readonly broadcast: internal.Service
  /** Dies as with SIGKILL: its timers stop, it hears and tells nothing, and it never leaves the store. */
  readonly kill: Effect.Effect<void>
  /** Cut off from the backplane (publishes fail, nothing arrives) until `restore`. */
  readonly cut: Effect.Effect<void>
  readonly restore: Effect.Effect<void>
}

export class Backplane {
  readonly presence: MemoryPresenceBackplane
  private readonly nodes = new Set<{ readonly hub: internal.Hub; readonly store: MemoryPresenceStore }>()

  constructor(now: () => number) {
    this.presence = new MemoryPresenceBackplane(now)
  }

  /** The store restarts empty. */
  clear(): void {
    this.presence.clear()
  }

  /** Starts a node, in the scope: closing it leaves as closing a Redis layer does. */
  node(
    options?: { readonly ttl?: number | undefined; readonly frames?: boolean | undefined }
  ): Effect.Effect<Node, never, Scope.Scope> {
    return Effect.gen({ self: this }, function*() {
      const nodes = this.nodes
      const id = internal.serverId()
      const hub = new internal.Hub(() => undefined)
      const presence: { driver?: Presence.PresenceDriver } = {}
      const store = this.presence.connect((change) => presence.driver?.node.receive(change))
      const member = { hub, store }
      const service = internal.make(
        id,
        hub,
        (topic, message) =>
          store.cut
            ? Effect.fail(new internal.BroadcastError({ reason: "Unavailable" }))
            : Effect.sync(() => {
              // delivered later, as through a network
              queueMicrotask(() => {
                for (const other of nodes) {
                  if (other !== member && !other.store.cut) other.hub.deliver(topic, message, undefined)
                }
              })
            }),
        { store, settings: Presence.defaultSettings(options?.ttl, options?.frames ?? true) }
      )
      presence.driver = service.presence
      nodes.add(member)
      yield* Effect.addFinalizer(() => Effect.sync(() => nodes.delete(member)))
      // the presence's timers and its leave, in a scope of their own that a kill closes cut off
      const scope = yield* Scope.fork(yield* Effect.scope, "sequential")
      yield* Scope.provide(Presence.run(service.presence, 5_000), scope)
      let killed = false
      return {
        id,
        broadcast: service,
        kill: Effect.suspend(() => {
          if (killed) return Effect.void
          killed = true
          store.cut = true
          nodes.delete(member)
          this.presence.disconnect(store)
          return Scope.close(scope, Exit.void)
        }),
        cut: Effect.sync(() => {
          store.cut = true
        }),
        restore: Effect.sync(() => {
          if (!killed) store.cut = false
        })
      } satisfies Node
    })
  }
}

export const make: Effect.Effect<Backplane> = Clock.clockWith((clock) =>
  Effect.succeed(new Backplane(() => clock.currentTimeMillisUnsafe()))
)
