/**
 * One server's presence, with no Effect, no timer and no socket: its own tracked entries, the changes
 * it numbers and hands to a store, the changes of other servers it applies in order, and the repairs
 * (resync a server, drop a dead one, rewrite its own state into a store that lost it). The driver
 * supplies the store (Redis, an in-memory one for tests, or none for one process), calls `heartbeat`
 * and `sweep` on its timers, and turns each diff into frames for the topic's subscribers.
 *
 * The rules (see presence.ts for why no CRDT is needed with a central store):
 * - only a server changes its own entries, and it numbers its changes 1, 2, 3...; the store keeps each
 *   server's entries with the number of the last change, and publishes each change to all servers in
 *   the order the server made them;
 * - a server applies another's change numbered `last + 1`, ignores an older one, and on a gap reads
 *   that server's entries from the store (`resync`), holding the changes that arrive meanwhile;
 * - a server whose liveness key expired in the store is dead: every server drops its entries (`sweep`),
 *   so a server killed with SIGKILL is gone everywhere within the key's time to live plus one sweep; a
 *   server with neither liveness nor entries stored (the store restarted empty) gets one more sweep
 *   to rewrite them, and a resync that finds nothing stored keeps what it had, so that members of live
 *   servers do not leave and join again when the store restarts;
 * - a server that finds its liveness key gone (the store restarted empty, or it was cut off longer than
 *   the time to live) or that failed to write a change rewrites its whole state and announces it, and
 *   the others resync it.
 */
import { type Diff, type Entry, PresenceState } from "./presence.js"

/** An entry as a server stores and announces it; `meta` is JSON (encoded by the driver). */
export interface Stored {
  readonly ref: string
  readonly topic: string
  readonly key: string
  readonly meta: unknown
}

/** One change of one server, numbered: what crosses the store's channel, as JSON. */
export type Change =
  | { readonly op: "join"; readonly server: string; readonly seq: number; readonly entry: Stored }
  | { readonly op: "leave"; readonly server: string; readonly seq: number; readonly ref: string }
  /** The server rewrote its whole state: read it again. */
  | { readonly op: "snapshot"; readonly server: string; readonly seq: number }
  /** The server is leaving (its layer closed): drop what it owned. */
  | { readonly op: "down"; readonly server: string; readonly seq: number }

/** What a server's entries look like in the store: the entries and the number of its last change. */
export interface Snapshot {
  readonly seq: number
  readonly entries: ReadonlyArray<Stored>
}

/**
 * Where servers keep their entries and announce changes (Redis in production). Every method may
 * reject (the store is away); the node then repairs on its next heartbeat or resync. `write` and
 * `rewrite` must publish `event` to every server (their own included, which ignores it) after the
 * state is stored, atomically with it and in call order.
 */
export interface PresenceStore {
  /** Stores a join or leave of `server` (its entry put or removed, its last number) and publishes it. */
  write(change: Change, event: string): Promise<void>
  /**
   * Replaces everything stored for `server` with `snapshot`, marks it alive for `ttl` ms, lists it
   * among the servers, and publishes `event`.
   */
  rewrite(server: string, snapshot: Snapshot, ttl: number, event: string): Promise<void>
  /** What is stored for `server`; an empty snapshot (seq 0) when nothing is. */
  read(server: string): Promise<Snapshot>
  /** Extends `server`'s liveness by `ttl` ms; `false` when its liveness had expired (state lost). */
  heartbeat(server: string, ttl: number): Promise<boolean>
  /** Whether each of `servers` is alive, and the number of its last change stored. */
  status(servers: ReadonlyArray<string>): Promise<ReadonlyArray<Status>>
  /** The servers listed in the store. */
  servers(): Promise<ReadonlyArray<string>>
  /**
   * Forgets a dead `server`: no longer listed, its liveness gone, and its entries deleted after `ttl`
   * ms (until then the other servers' sweeps still see entries without liveness: a death, not a store
   * that restarted empty).
   */
  forget(server: string, ttl: number): Promise<void>
  /** Deletes `server`'s own state and publishes `event` (it is leaving). */
  leave(server: string, event: string): Promise<void>
}

/** A server as the store has it: whether its liveness holds, and the number of its last change. */
export interface Status {
  readonly alive: boolean
  readonly seq: number
}

export const encodeChange = (change: Change): string => JSON.stringify(change)

/** A change from the channel, or `undefined` when it is not one (another version, garbage). */
export const decodeChange = (text: string): Change | undefined => {
  let value: any
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null) return undefined
  if (typeof value.server !== "string" || typeof value.seq !== "number" || !Number.isInteger(value.seq)) {
    return undefined
  }
  switch (value.op) {
    case "join":
      return isStored(value.entry) ? value as Change : undefined
    case "leave":
      return typeof value.ref === "string" ? value as Change : undefined
    case "snapshot":
    case "down":
      return value as Change
    default:
      return undefined
  }
}

export const isStored = (value: any): value is Stored =>
  typeof value === "object" && value !== null && typeof value.ref === "string" &&
  typeof value.topic === "string" && typeof value.key === "string" && "meta" in value

/** Structural equality of two JSON values (metas read back from a store). */
export const sameJson = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !sameJson((a as any)[k], (b as any)[k])) return false
  }
  return true
}

/** What the node tells its driver. */
export interface Events {
  /** A topic changed: deliver the diff to its subscribers. */
  readonly diff: (topic: string, diff: Diff<unknown>) => void
  /** A store operation failed; the node repairs by itself, this is for logs. */
  readonly failed?: ((operation: string, error: unknown) => void) | undefined
}

export class PresenceNode {
  readonly state = new PresenceState<unknown>()
  private seq = 0
  /** A write failed: the store's copy of this server may be behind, rewrite it at the next heartbeat. */
  private dirty = false
  private stopped = false
  /** Servers with neither liveness nor entries in the store at the last sweep (gone, or the store lost them). */
  private readonly suspects = new Set<string>()
  /** Servers being read from the store, with the changes that arrived meanwhile. */
  private readonly resyncing = new Map<string, Array<Change>>()

  /**
   * @param server this server's id, unique per process run
   * @param store `undefined` for one process alone
   * @param ttl how long the store keeps this server alive without a heartbeat, in ms
   */
  constructor(
    readonly server: string,
    private readonly store: PresenceStore | undefined,
    private readonly ttl: number,
    private readonly events: Events
  ) {}

  /** Tracks (or updates the meta of) this server's entry `ref`. */
  track(ref: string, topic: string, key: string, meta: unknown): void {
    if (this.stopped) return
    const diff = this.state.put({ server: this.server, ref, topic, key, meta })
    for (const leave of diff.leaves) {
      if (leave.topic !== topic) this.events.diff(leave.topic, { joins: [], leaves: [leave] })
    }
    this.events.diff(topic, { joins: diff.joins, leaves: diff.leaves.filter((leave) => leave.topic === topic) })
    this.announce({ op: "join", server: this.server, seq: ++this.seq, entry: { ref, topic, key, meta } })
  }

  /** Stops tracking this server's entry `ref` (nothing if it has none). */
  untrack(ref: string): void {
    const entry = this.state.remove(this.server, ref)
    if (entry === undefined || this.stopped) return
    this.events.diff(entry.topic, { joins: [], leaves: [entry] })
    this.announce({ op: "leave", server: this.server, seq: ++this.seq, ref })
  }

  private announce(change: Change): void {
    const store = this.store
    if (store === undefined) return
    store.write(change, encodeChange(change)).catch((error) => {
      this.dirty = true
      this.events.failed?.("write", error)
    })
  }

  /** A change that came through the store's channel. */
  receive(change: Change): void {
    if (change.server === this.server || this.stopped) return
    const held = this.resyncing.get(change.server)
    if (held !== undefined) {
      held.push(change)
      return
    }
    this.apply(change)
  }

  private apply(change: Change): void {
    switch (change.op) {
      case "snapshot":
        if (change.seq > this.state.lastSeq(change.server) || change.seq === 0) this.resync(change.server)
        return
      case "down":
        this.emitAll(this.state.dropServer(change.server))
        return
    }
    const verdict = this.state.sequence(change.server, change.seq)
    if (verdict === "stale") return
    if (verdict === "gap") {
      this.resync(change.server)
      return
    }
    if (change.op === "join") {
      const { entry } = change
      const diff = this.state.put({ server: change.server, ...entry })
      for (const leave of diff.leaves) {
        if (leave.topic !== entry.topic) this.events.diff(leave.topic, { joins: [], leaves: [leave] })
      }
      this.events.diff(entry.topic, {
        joins: diff.joins,
        leaves: diff.leaves.filter((leave) => leave.topic === entry.topic)
      })
    } else {
      const gone = this.state.remove(change.server, change.ref)
      if (gone !== undefined) this.events.diff(gone.topic, { joins: [], leaves: [gone] })
    }
  }

  /**
   * Reads `server`'s entries from the store and makes them this node's copy, applying the changes
   * that arrived meanwhile; resolves once done (or failed: the next change or sweep tries again).
   */
  resync(server: string): Promise<void> {
    const store = this.store
    if (store === undefined || server === this.server || this.resyncing.has(server)) return Promise.resolve()
    const held: Array<Change> = []
    this.resyncing.set(server, held)
    return store.read(server).then(
      (snapshot) => {
        this.resyncing.delete(server)
        if (this.stopped) return
        // nothing stored, not even a change number: the store lost it (a restart empty; the server
        // rewrites it within a heartbeat) or forgot a dead server (whose liveness the sweep checks).
        // Either way no evidence that its members left: keep them rather than make them flap
        if (snapshot.seq === 0 && snapshot.entries.length === 0 && this.state.entriesOf(server).length > 0) {
          for (const change of held) this.receive(change)
          return
        }
        const entries = snapshot.entries.map((stored) => ({ server, ...stored }))
        this.emitAll(this.state.replaceServer(server, entries, snapshot.seq, sameJson))
        for (const change of held) this.receive(change)
      },
      (error) => {
        this.resyncing.delete(server)
        this.events.failed?.("resync", error)
      }
    )
  }

  /**
   * Joins the store: announces this server (with what it already tracks) and reads every other
   * server listed there. Also what to call after the store's connection came back, as changes may
   * have been missed meanwhile.
   */
  async start(): Promise<void> {
    const store = this.store
    if (store === undefined || this.stopped) return
    await this.rewrite()
    const servers = await store.servers()
    const known = new Set([...servers, ...this.state.servers()])
    known.delete(this.server)
    await Promise.all(Array.from(known, (server) => this.resync(server)))
  }

  /** Writes this server's whole state into the store and tells the others to read it. */
  private rewrite(): Promise<void> {
    const store = this.store!
    this.dirty = false
    const seq = ++this.seq
    const entries = this.state.entriesOf(this.server).map(({ key, meta, ref, topic }) => ({ ref, topic, key, meta }))
    return store.rewrite(
      this.server,
      { seq, entries },
      this.ttl,
      encodeChange({ op: "snapshot", server: this.server, seq })
    ).catch((error) => {
      this.dirty = true
      throw error
    })
  }

  /**
   * Keeps this server alive in the store; rewrites its state when the store lost it (its liveness
   * had expired) or a write failed. Call it well within `ttl`.
   */
  async heartbeat(): Promise<void> {
    const store = this.store
    if (store === undefined || this.stopped) return
    if (this.dirty) return this.rewrite()
    const alive = await store.heartbeat(this.server, this.ttl)
    if (!alive) await this.rewrite()
  }

  /**
   * Drops the servers whose liveness expired (and deletes what the store kept for them), and reads
   * again every live server whose stored changes are ahead of this node's copy (a change lost on the
   * way, or a server not known yet): whatever was missed, the copies agree again after one sweep.
   */
  async sweep(): Promise<void> {
    const store = this.store
    if (store === undefined || this.stopped) return
    const listed = await store.servers()
    const known = new Set(this.state.servers())
    for (const server of listed) known.add(server)
    known.delete(this.server)
    const servers = Array.from(known)
    if (servers.length === 0) return
    const status = await store.status(servers)
    const behind: Array<Promise<void>> = []
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i]
      if (!status[i].alive) {
        // a liveness that expired next to the server's stored entries: it died. Neither stored: the
        // store may have restarted empty, and a live server rewrites both within a heartbeat, before
        // the next sweep: dropped only if still gone then (so a restart does not make members flap)
        if (status[i].seq === 0 && !this.suspects.has(server) && this.state.entriesOf(server).length > 0) {
          this.suspects.add(server)
          continue
        }
        this.suspects.delete(server)
        this.emitAll(this.state.dropServer(server))
        store.forget(server, this.ttl).catch((error) => this.events.failed?.("forget", error))
      } else {
        this.suspects.delete(server)
        if (status[i].seq > this.state.lastSeq(server)) behind.push(this.resync(server))
      }
    }
    await Promise.all(behind)
  }

  /**
   * Leaves: the other servers drop this one's entries at once (it does not wait for its liveness to
   * expire). Local subscribers get no diffs from here on.
   */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const store = this.store
    if (store === undefined) return
    await store.leave(this.server, encodeChange({ op: "down", server: this.server, seq: ++this.seq }))
  }

  private emitAll(diffs: ReadonlyMap<string, Diff<unknown>>): void {
    for (const [topic, diff] of diffs) this.events.diff(topic, diff)
  }

  /** The entries of `topic` grouped by key. */
  list(topic: string): ReadonlyMap<string, ReadonlyArray<Entry<unknown>>> {
    return this.state.list(topic)
  }
}
