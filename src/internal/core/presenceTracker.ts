/**
 * Presence as a broadcast node offers it, with no Effect: connections (members) tracked in topics
 * under one ref per member and topic, untracked when the member ends, and every change of a topic
 * numbered (sequence.ts) in the shape clients get: `presence_diff` and `presence_state`, entries
 * grouped by key. The driver delivers each change (as a frame to the topic's subscribers, and to its
 * streams) and runs the node's timers.
 */
import type { Diff, Entry } from "./presence.js"
import { type Events, PresenceNode, type PresenceStore } from "./presenceNode.js"
import { Sequencer } from "./sequence.js"

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

/** Default time to live of a server's liveness in a store: 10 s; heartbeat every 3.3 s, sweep every 5 s. */
export const defaultSettings = (ttl = 10_000, frames = true): Settings => ({
  frames,
  ttl,
  heartbeat: Math.max(1, Math.floor(ttl / 3)),
  sweep: Math.max(1, Math.floor(ttl / 2))
})

/** What the tracker needs of a connection: whether it is ending, and to be told when it does. */
export interface Member {
  isEnding(): boolean
  whenEnding(f: () => void): void
}

const group = (entries: Iterable<Entry<unknown>>): Record<string, Array<PresenceEntry<unknown>>> => {
  const presences: Record<string, Array<PresenceEntry<unknown>>> = {}
  for (const entry of entries) {
    const item = { ref: `${entry.server}.${entry.ref}`, meta: entry.meta }
    const list = presences[entry.key]
    if (list === undefined) presences[entry.key] = [item]
    else list.push(item)
  }
  return presences
}

export class PresenceTracker<M extends Member> {
  readonly node: PresenceNode
  private readonly sequencer: Sequencer
  private readonly refs = new WeakMap<M, Map<string, string>>()
  private refCount = 0

  /** @param deliver told of every change of a topic, numbered, in order */
  constructor(
    readonly server: string,
    store: PresenceStore | undefined,
    readonly settings: Settings,
    deliver: (change: Change<unknown>) => void,
    failed?: Events["failed"]
  ) {
    this.sequencer = new Sequencer(server)
    this.node = new PresenceNode(server, store, settings.ttl, {
      diff: (topic, diff) => {
        if (diff.joins.length === 0 && diff.leaves.length === 0) return
        deliver(this.number(topic, diff))
      },
      failed
    })
  }

  private number(topic: string, diff: Diff<unknown>): Change<unknown> {
    const position = this.sequencer.next(topic)
    return {
      type: "presence_diff",
      topic,
      stream: position.stream,
      seq: position.seq,
      joins: group(diff.joins),
      leaves: group(diff.leaves)
    }
  }

  /** Tracks `member` in `topic` (or updates its meta there); untracked when the member ends. */
  track(member: M, topic: string, key: string, meta: unknown): void {
    if (member.isEnding()) return
    let topics = this.refs.get(member)
    if (topics === undefined) {
      topics = new Map()
      this.refs.set(member, topics)
      member.whenEnding(() => this.untrackAll(member))
    }
    let ref = topics.get(topic)
    if (ref === undefined) {
      ref = (++this.refCount).toString(36)
      topics.set(topic, ref)
    }
    this.node.track(ref, topic, key, meta)
  }

  untrack(member: M, topic: string): void {
    const topics = this.refs.get(member)
    const ref = topics?.get(topic)
    if (ref === undefined) return
    topics!.delete(topic)
    this.node.untrack(ref)
  }

  private untrackAll(member: M): void {
    const topics = this.refs.get(member)
    if (topics === undefined) return
    this.refs.delete(member)
    for (const ref of topics.values()) this.node.untrack(ref)
  }

  /** The topic's presences now, with the position its next diff follows. */
  state(topic: string): State<unknown> {
    const position = this.sequencer.current(topic)
    const presences: Record<string, Array<PresenceEntry<unknown>>> = {}
    for (const [key, entries] of this.node.list(topic)) presences[key] = group(entries)[key]
    return { type: "presence_state", topic, stream: position.stream, seq: position.seq, presences }
  }
}
