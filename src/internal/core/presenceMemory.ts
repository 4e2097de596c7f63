/**
 * A presence store in memory, shared by the servers (nodes) of one test: what Redis keeps for presence
 * (each server's entries and last change number, a liveness key with a time to live, the list of
 * servers) and its channel. Time comes from `now`, so a test's clock decides when a liveness expires.
 * `clear` is a store restarted empty; a store handle that is `cut` rejects everything and receives
 * nothing, as a server cut off from Redis.
 */
import type { Change, PresenceStore, Snapshot, Status, Stored } from "./presenceNode.js"
import { decodeChange } from "./presenceNode.js"

interface Kept {
  seq: number
  readonly entries: Map<string, Stored>
}

export class MemoryPresenceBackplane {
  private readonly kept = new Map<string, Kept>()
  /** When the entries of a forgotten server go (as a PEXPIRE does). */
  private readonly keptUntil = new Map<string, number>()
  private readonly aliveUntil = new Map<string, number>()
  private readonly listed = new Set<string>()
  private readonly listeners = new Set<MemoryPresenceStore>()
  /** How many operations reached the store: what a benchmark of the protocol counts. */
  operations = 0

  constructor(readonly now: () => number) {}

  /** A handle for one server; `receive` gets every change published (its own included). */
  connect(receive: (change: Change) => void): MemoryPresenceStore {
    const store = new MemoryPresenceStore(this, receive)
    this.listeners.add(store)
    return store
  }

  disconnect(store: MemoryPresenceStore): void {
    this.listeners.delete(store)
  }

  /** The store restarted with nothing in it. */
  clear(): void {
    this.kept.clear()
    this.aliveUntil.clear()
    this.listed.clear()
  }

  /** @internal */
  publish(event: string): void {
    const change = decodeChange(event)
    if (change === undefined) return
    const listeners = Array.from(this.listeners)
    // delivered later, as through a network: never inside the call that published
    queueMicrotask(() => {
      for (const listener of listeners) {
        if (!listener.cut && this.listeners.has(listener)) listener.receive(change)
      }
    })
  }

  /** @internal */
  keptOf(server: string): Kept {
    let kept = this.keptNow(server)
    if (kept === undefined) {
      kept = { seq: 0, entries: new Map() }
      this.kept.set(server, kept)
    }
    return kept
  }

  /** @internal Deletes everything of `server` now. */
  forget(server: string): void {
    this.kept.delete(server)
    this.keptUntil.delete(server)
    this.aliveUntil.delete(server)
    this.listed.delete(server)
  }

  /** @internal A dead server: unlisted, its liveness gone, its entries deleted `ttl` ms from now. */
  expire(server: string, ttl: number): void {
    this.aliveUntil.delete(server)
    this.listed.delete(server)
    if (this.kept.has(server)) this.keptUntil.set(server, this.now() + ttl)
  }

  /** The entries kept of `server` (none once their expiry passed). */
  private keptNow(server: string): Kept | undefined {
    const until = this.keptUntil.get(server)
    if (until !== undefined && until <= this.now()) {
      this.kept.delete(server)
      this.keptUntil.delete(server)
    }
    return this.kept.get(server)
  }

  /** @internal */
  isAlive(server: string): boolean {
    const until = this.aliveUntil.get(server)
    if (until === undefined) return false
    if (until > this.now()) return true
    this.aliveUntil.delete(server)
    return false
  }

  /** @internal */
  setAlive(server: string, ttl: number): void {
    this.aliveUntil.set(server, this.now() + ttl)
    this.listed.add(server)
  }

  /** @internal */
  serverNames(): ReadonlyArray<string> {
    return Array.from(this.listed)
  }

  /** @internal */
  read(server: string): Snapshot {
    const kept = this.keptNow(server)
    return kept === undefined ? { seq: 0, entries: [] } : { seq: kept.seq, entries: Array.from(kept.entries.values()) }
  }
}

const unreachable = () => Promise.reject(new Error("presence store unreachable"))

export class MemoryPresenceStore implements PresenceStore {
  /** Cut off from the store: every call rejects and nothing is received. */
  cut = false

  constructor(private readonly backplane: MemoryPresenceBackplane, readonly receive: (change: Change) => void) {}

  private run<A>(f: () => A): Promise<A> {
    if (this.cut) return unreachable()
    this.backplane.operations++
    return Promise.resolve(f())
  }

  write(change: Change, event: string): Promise<void> {
    return this.run(() => {
      const kept = this.backplane.keptOf(change.server)
      if (change.op === "join") kept.entries.set(change.entry.ref, change.entry)
      else if (change.op === "leave") kept.entries.delete(change.ref)
      kept.seq = change.seq
      this.backplane.publish(event)
    })
  }

  rewrite(server: string, snapshot: Snapshot, ttl: number, event: string): Promise<void> {
    return this.run(() => {
      this.backplane.forget(server)
      const kept = this.backplane.keptOf(server)
      kept.seq = snapshot.seq
      for (const entry of snapshot.entries) kept.entries.set(entry.ref, entry)
      this.backplane.setAlive(server, ttl)
      this.backplane.publish(event)
    })
  }

  read(server: string): Promise<Snapshot> {
    return this.run(() => this.backplane.read(server))
  }

  heartbeat(server: string, ttl: number): Promise<boolean> {
    return this.run(() => {
      if (!this.backplane.isAlive(server)) return false
      this.backplane.setAlive(server, ttl)
      return true
    })
  }

  status(servers: ReadonlyArray<string>): Promise<ReadonlyArray<Status>> {
    return this.run(() =>
      servers.map((server) => ({ alive: this.backplane.isAlive(server), seq: this.backplane.read(server).seq }))
    )
  }

  servers(): Promise<ReadonlyArray<string>> {
    return this.run(() => this.backplane.serverNames())
  }

  forget(server: string, ttl: number): Promise<void> {
    return this.run(() => this.backplane.expire(server, ttl))
  }

  leave(server: string, event: string): Promise<void> {
    return this.run(() => {
      this.backplane.forget(server)
      this.backplane.publish(event)
    })
  }
}
