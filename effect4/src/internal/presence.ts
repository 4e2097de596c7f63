/**
 * Presence on a broadcast node: connections tracked in topics (core/presenceNode.ts keeps the entries
 * and talks to the store), their diffs numbered per topic (core/sequence.ts) and delivered as frames
 * to the topic's subscribers and to the `changes` streams, and the timers that keep the node alive in
 * a store and sweep the dead servers.
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Hub } from "./broadcast.js"
import { share } from "./broadcast.js"
import type { ConnectionImpl } from "./connection.js"
import type { Events, PresenceStore } from "./core/presenceNode.js"
import { type Change, PresenceTracker, type Settings } from "./core/presenceTracker.js"

export type { Change, PresenceEntry, Presences, Settings, State } from "./core/presenceTracker.js"
export { defaultSettings } from "./core/presenceTracker.js"

/** A `changes` stream's buffer. */
interface ChangeListener {
  readonly connection: ConnectionImpl
  readonly queue: Queue.Queue<Change<unknown>, Cause.Done>
}

/**
 * Presence on one broadcast node: the core's tracker, whose changes go as frames to the topic's
 * subscribers (through the hub, as a publish does) and to the `changes` streams.
 */
export class PresenceDriver extends PresenceTracker<ConnectionImpl> {
  private readonly listeners = new Map<string, Set<ChangeListener>>()

  constructor(
    server: string,
    hub: Hub,
    store: PresenceStore | undefined,
    settings: Settings,
    failed?: Events["failed"]
  ) {
    super(server, store, settings, (change) => {
      if (settings.frames) hub.deliver(change.topic, share(JSON.stringify(change)), undefined)
      const listeners = this.listeners.get(change.topic)
      if (listeners !== undefined) {
        for (const listener of listeners) Queue.offerUnsafe(listener.queue, change)
      }
    }, failed)
  }

  /**
   * The topic's diffs as a stream for `connection`, live when this returns: at most `capacity` wait
   * to be taken (more are dropped, and the stream's next diff shows the gap by its `seq`). It ends when
   * the connection ends; interrupting it stops the listening. Its queue ends (`Done`) rather than
   * shuts down: `Stream.fromQueue` then ends the stream, where a shutdown would interrupt its fiber.
   */
  changes(connection: ConnectionImpl, topic: string, capacity: number): Effect.Effect<Stream.Stream<Change<unknown>>> {
    return Effect.map(Queue.dropping<Change<unknown>, Cause.Done>(capacity), (queue) => {
      const listener: ChangeListener = { connection, queue }
      const stop = () => {
        const set = this.listeners.get(topic)
        if (set !== undefined && set.delete(listener) && set.size === 0) this.listeners.delete(topic)
        Queue.endUnsafe(queue)
      }
      if (connection.isEnding()) {
        stop()
      } else {
        let set = this.listeners.get(topic)
        if (set === undefined) {
          set = new Set()
          this.listeners.set(topic, set)
        }
        set.add(listener)
        connection.whenEnding(stop)
      }
      return Stream.ensuring(Stream.fromQueue(queue), Effect.sync(stop))
    })
  }
}

/**
 * Runs a node's presence against its store for as long as the scope: joins the store now (waiting at
 * most `startTimeout` ms), heartbeats and sweeps on the clock, and leaves when the scope closes
 * (without waiting: on Redis the leave is queued before the connection's QUIT, which waits for its
 * reply). Failures are logged at debug level: the node repairs on its next beat.
 */
export const run = (
  driver: PresenceDriver,
  startTimeout: number,
  /** Whether to wait for the start (the store is reachable now), or to let it finish in the background. */
  wait = true
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const node = driver.node
    // the stop's failure is logged after the scope closed, with the scope's context (its logger)
    const log = Effect.runForkWith(yield* Effect.context<never>())
    const failed = (name: string, error: unknown) =>
      Effect.logDebug(
        `effect-websocket: presence ${name} failed: ${error instanceof Error ? error.message : String(error)}`
      )
    const attempt = (name: string, f: () => Promise<void>) =>
      Effect.tryPromise({ try: f, catch: (error) => error }).pipe(Effect.catch((error) => failed(name, error)))
    // left last, after the timers stopped (finalizers run in reverse order)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        node.stop().catch((error) => log(failed("stop", error)))
      })
    )
    const start = attempt("start", () => node.start())
    if (wait) yield* start.pipe(Effect.timeout(startTimeout), Effect.ignore)
    else yield* Effect.forkScoped(start)
    yield* Effect.forkScoped(
      Effect.repeat(attempt("heartbeat", () => node.heartbeat()), Schedule.spaced(driver.settings.heartbeat))
    )
    yield* Effect.forkScoped(
      Effect.repeat(attempt("sweep", () => node.sweep()), Schedule.spaced(driver.settings.sweep))
    )
  })
