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
import type { Diff, Entry } from "./core/presence.js"
import { type Events, PresenceNode, type PresenceStore } from "./core/presenceNode.js"
import { Sequencer } from "./core/sequence.js"

/** One tracked connection as lists and diffs show it: its ref (unique per connection and topic) and meta. */
export interface PresenceEntry<Meta> {
  readonly ref: string
  readonly meta: Meta
}

/** Entries grouped by key (a user id with several connections has several entries). */
export type Presences<Meta> = { readonly [key: string]: ReadonlyArray<PresenceEntry<Meta>> }

/** A topic's presences now, and the position of its last diff on this server. */
export interface State<Meta> {
  readonly type: "presence_state"
  readonly topic: string
  readonly stream: string
  readonly seq: number
  readonly presences: Presences<Meta>
}

/** What changed in a topic, numbered: `seq` follows the previous diff's (or a state's) in `stream`. */
export interface Change<Meta> {
  readonly type: "presence_diff"
  readonly topic: string
  readonly stream: string
  readonly seq: number
  readonly joins: Presences<Meta>
  readonly leaves: Presences<Meta>
}

/** How a node's presence runs. */
export interface Settings {
  /** Frames of each diff to the topic's subscribers. */
  readonly frames: boolean
  /** How long a store keeps this server alive without a heartbeat, in ms. */
  readonly ttl: number
  /** Heartbeat period, in ms. */
  readonly heartbeat: number
  /** Sweep period (servers whose liveness expired are dropped), in ms. */
  readonly sweep: number
}

/** Default time to live of a server's liveness in a store: 10 s; heartbeat every 3 s, sweep every 5 s. */
export const defaultSettings = (ttl = 10_000, frames = true): Settings => ({
  frames,
  ttl,
  heartbeat: Math.max(1, Math.floor(ttl / 3)),
  sweep: Math.max(1, Math.floor(ttl / 2))
})

const group = (entries: Iterable<Entry<unknown>>): Presences<unknown> => {
  const presences: Record<string, Array<PresenceEntry<unknown>>> = {}
  for (const entry of entries) {
    const item = { ref: `${entry.server}.${entry.ref}`, meta: entry.meta }
    const list = presences[entry.key]
    if (list === undefined) presences[entry.key] = [item]
    else list.push(item)
  }
  return presences
}

/** A `changes` stream's buffer. */
interface ChangeListener {
  readonly connection: ConnectionImpl
  readonly queue: Queue.Queue<Change<unknown>, Cause.Done>
}

export class PresenceDriver {
  readonly node: PresenceNode
  private readonly sequencer: Sequencer
  private readonly refs = new WeakMap<ConnectionImpl, Map<string, string>>()
  private readonly listeners = new Map<string, Set<ChangeListener>>()
  private refCount = 0

  constructor(
    readonly server: string,
    private readonly hub: Hub,
    store: PresenceStore | undefined,
    readonly settings: Settings,
    failed?: Events["failed"]
  ) {
    this.sequencer = new Sequencer(server, 100_000)
    this.node = new PresenceNode(server, store, settings.ttl, {
      diff: (topic, diff) => this.deliver(topic, diff),
      failed
    })
  }

  private deliver(topic: string, diff: Diff<unknown>): void {
    if (diff.joins.length === 0 && diff.leaves.length === 0) return
    const position = this.sequencer.next(topic)
    const change: Change<unknown> = {
      type: "presence_diff",
      topic,
      stream: position.stream,
      seq: position.seq,
      joins: group(diff.joins),
      leaves: group(diff.leaves)
    }
    if (this.settings.frames) this.hub.deliver(topic, share(JSON.stringify(change)), undefined)
    const listeners = this.listeners.get(topic)
    if (listeners !== undefined) {
      for (const listener of listeners) Queue.offerUnsafe(listener.queue, change)
    }
  }

  /** Tracks `connection` in `topic` (or updates its meta there); untracked when the connection ends. */
  track(connection: ConnectionImpl, topic: string, key: string, meta: unknown): void {
    if (connection.isEnding()) return
    let topics = this.refs.get(connection)
    if (topics === undefined) {
      topics = new Map()
      this.refs.set(connection, topics)
      connection.whenEnding(() => this.untrackAll(connection))
    }
    let ref = topics.get(topic)
    if (ref === undefined) {
      ref = (++this.refCount).toString(36)
      topics.set(topic, ref)
    }
    this.node.track(ref, topic, key, meta)
  }

  untrack(connection: ConnectionImpl, topic: string): void {
    const topics = this.refs.get(connection)
    const ref = topics?.get(topic)
    if (ref === undefined) return
    topics!.delete(topic)
    this.node.untrack(ref)
  }

  private untrackAll(connection: ConnectionImpl): void {
    const topics = this.refs.get(connection)
    if (topics === undefined) return
    this.refs.delete(connection)
    for (const ref of topics.values()) this.node.untrack(ref)
  }

  /** The topic's presences now, with the position its next diff follows. */
  state(topic: string): State<unknown> {
    const position = this.sequencer.current(topic)
    const presences: Record<string, Array<PresenceEntry<unknown>>> = {}
    for (const [key, entries] of this.node.list(topic)) presences[key] = group(entries)[key] as Array<any>
    return { type: "presence_state", topic, stream: position.stream, seq: position.seq, presences }
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
