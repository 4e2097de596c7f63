/**
 * Presence state with no Effect and no transport: who is in which topic, across servers, as one server
 * sees it. The driver (Presence over Broadcast, in memory or through Redis) tracks connections and
 * moves entries and diffs between servers; this file only keeps the entries and computes the diffs.
 *
 * The rule that keeps it simple is Phoenix.Tracker's: every entry is owned by one server (the one its
 * connection runs on) and only its owner adds, updates or removes it. So no two servers ever change the
 * same entry, a server's entries can be replaced whole (a resync from what the owner says it has) or
 * dropped whole (the owner is gone), and the state of the cluster is the union of each server's own
 * entries. Phoenix merges replicas with a causal CRDT (an ORSWOT with per-replica clocks) because its
 * replicas talk to each other directly; with a central store every server can read what another owns,
 * so a per-server sequence number on each change is enough to notice a lost or reordered one and
 * resync that server from the store instead.
 */

/** One tracked connection in one topic, named by its owner's `ref`. */
export interface Entry<Meta> {
  readonly server: string
  readonly ref: string
  readonly topic: string
  /** What `list` groups by (a user id with several connections). */
  readonly key: string
  readonly meta: Meta
}

/** What changed in one topic: entries that appeared and entries that went (an update is both). */
export interface Diff<Meta> {
  readonly joins: ReadonlyArray<Entry<Meta>>
  readonly leaves: ReadonlyArray<Entry<Meta>>
}

/**
 * What to do with a server's change numbered `seq`: apply it (the next one expected), ignore it (seen
 * already), or resync the server (one or more changes were missed).
 */
export type Sequenced = "apply" | "stale" | "gap"

const idOf = (server: string, ref: string): string => `${server}\u0000${ref}`

/** The entries one server owns, and the number of its last change applied here. */
interface Owner<Meta> {
  readonly entries: Map<string, Entry<Meta>>
  seq: number
}

export class PresenceState<Meta> {
  private readonly topics = new Map<string, Map<string, Entry<Meta>>>()
  private readonly owners = new Map<string, Owner<Meta>>()

  /**
   * Adds `entry`, or replaces the meta of the entry its owner already has under that ref. Returns the
   * diff of its topic: a join, and a leave of the previous meta when it replaced one.
   */
  put(entry: Entry<Meta>): Diff<Meta> {
    const id = idOf(entry.server, entry.ref)
    const owner = this.ownerOf(entry.server)
    const previous = owner.entries.get(id)
    if (previous !== undefined && previous.topic !== entry.topic) this.delete(previous)
    owner.entries.set(id, entry)
    let members = this.topics.get(entry.topic)
    if (members === undefined) {
      members = new Map()
      this.topics.set(entry.topic, members)
    }
    // a re-put moves the entry to the end: `list` keeps the order of the latest joins
    members.delete(id)
    members.set(id, entry)
    return { joins: [entry], leaves: previous === undefined ? [] : [previous] }
  }

  /** Removes the entry `server` owns under `ref`; returns it, or `undefined` if there was none. */
  remove(server: string, ref: string): Entry<Meta> | undefined {
    const entry = this.owners.get(server)?.entries.get(idOf(server, ref))
    if (entry !== undefined) this.delete(entry)
    return entry
  }

  private delete(entry: Entry<Meta>): void {
    const id = idOf(entry.server, entry.ref)
    const owner = this.owners.get(entry.server)
    owner?.entries.delete(id)
    const members = this.topics.get(entry.topic)
    members?.delete(id)
    if (members !== undefined && members.size === 0) this.topics.delete(entry.topic)
  }

  /** The entries of `topic` grouped by key, in the order each key's latest entry joined. */
  list(topic: string): ReadonlyMap<string, ReadonlyArray<Entry<Meta>>> {
    const grouped = new Map<string, Array<Entry<Meta>>>()
    const members = this.topics.get(topic)
    if (members === undefined) return grouped
    for (const entry of members.values()) {
      const group = grouped.get(entry.key)
      if (group === undefined) grouped.set(entry.key, [entry])
      else group.push(entry)
    }
    return grouped
  }

  /** The entries `server` owns, as this server knows them. */
  entriesOf(server: string): ReadonlyArray<Entry<Meta>> {
    return Array.from(this.owners.get(server)?.entries.values() ?? [])
  }

  /** The servers that own entries here or whose changes were applied. */
  servers(): ReadonlyArray<string> {
    return Array.from(this.owners.keys())
  }

  /** Drops everything `server` owns (it is gone); returns the leaves, grouped by topic. */
  dropServer(server: string): ReadonlyMap<string, Diff<Meta>> {
    const owner = this.owners.get(server)
    this.owners.delete(server)
    const diffs = new Map<string, { joins: Array<Entry<Meta>>; leaves: Array<Entry<Meta>> }>()
    if (owner === undefined) return diffs
    for (const entry of owner.entries.values()) {
      this.delete(entry)
      diffOf(diffs, entry.topic).leaves.push(entry)
    }
    return diffs
  }

  /**
   * Replaces what `server` owns with `entries` (a resync from what it says it has), its last change
   * being `seq`; returns the diff per topic: what appeared, what went, what changed meta (a leave and
   * a join). `sameMeta` compares two metas (structural equality for metas decoded from JSON).
   */
  replaceServer(
    server: string,
    entries: ReadonlyArray<Entry<Meta>>,
    seq: number,
    sameMeta: (a: Meta, b: Meta) => boolean
  ): ReadonlyMap<string, Diff<Meta>> {
    const diffs = new Map<string, { joins: Array<Entry<Meta>>; leaves: Array<Entry<Meta>> }>()
    const before = new Map(this.owners.get(server)?.entries ?? [])
    for (const entry of entries) {
      if (entry.server !== server) continue
      const id = idOf(server, entry.ref)
      const old = before.get(id)
      before.delete(id)
      if (old !== undefined && old.topic === entry.topic && old.key === entry.key && sameMeta(old.meta, entry.meta)) {
        continue
      }
      const diff = this.put(entry)
      const topicDiff = diffOf(diffs, entry.topic)
      topicDiff.joins.push(...diff.joins)
      for (const leave of diff.leaves) diffOf(diffs, leave.topic).leaves.push(leave)
    }
    for (const gone of before.values()) {
      this.delete(gone)
      diffOf(diffs, gone.topic).leaves.push(gone)
    }
    this.ownerOf(server).seq = seq
    return diffs
  }

  /**
   * Whether `server`'s change numbered `seq` comes next (each server numbers its changes 1, 2, 3...):
   * "apply" also records it; "gap" means changes were lost or reordered and the server needs a resync
   * (`replaceServer`); "stale" means it was applied already (or a resync covered it).
   */
  sequence(server: string, seq: number): Sequenced {
    const owner = this.ownerOf(server)
    if (seq <= owner.seq) return "stale"
    if (seq !== owner.seq + 1) return "gap"
    owner.seq = seq
    return "apply"
  }

  /** The number of `server`'s last change applied here (0 before any). */
  lastSeq(server: string): number {
    return this.owners.get(server)?.seq ?? 0
  }

  private ownerOf(server: string): Owner<Meta> {
    let owner = this.owners.get(server)
    if (owner === undefined) {
      owner = { entries: new Map(), seq: 0 }
      this.owners.set(server, owner)
    }
    return owner
  }
}

const diffOf = <Meta>(
  diffs: Map<string, { joins: Array<Entry<Meta>>; leaves: Array<Entry<Meta>> }>,
  topic: string
): { joins: Array<Entry<Meta>>; leaves: Array<Entry<Meta>> } => {
  let diff = diffs.get(topic)
  if (diff === undefined) {
    diff = { joins: [], leaves: [] }
    diffs.set(topic, diff)
  }
  return diff
}
