/**
 * A process's broadcast subscriptions, with no Effect and no transport: which members (connections)
 * are subscribed to which topic, what each topic keeps while it has subscribers, and when a topic
 * gains its first subscriber or loses its last (a backplane subscribes to the topic's channel then).
 * Delivery, with its transports and metrics, is the driver's (`../broadcast.ts`).
 */

/** What a topic keeps while it has subscribers: its members, what the driver attached, its drop count. */
export interface Topic<Member, Extra> {
  readonly members: Set<Member>
  readonly extra: Extra
  dropped: number
}

export class Subscriptions<Member extends object, Extra> {
  private readonly topics = new Map<string, Topic<Member, Extra>>()
  /** The topics of each subscribed member, to drop them all when it leaves. */
  private readonly memberships = new WeakMap<Member, Set<string>>()

  /**
   * @param extraOf what a topic keeps from its first subscriber to its last (its metric labels)
   * @param onFirst told when a topic gains its first subscriber
   * @param onLast told when a topic loses its last: nothing of it is kept afterwards
   */
  constructor(
    private readonly extraOf: (topic: string) => Extra,
    private readonly onFirst: (topic: string) => void = () => {},
    private readonly onLast: (topic: string) => void = () => {}
  ) {}

  /**
   * Subscribes `member` to `topic`; a second time does nothing. Returns whether this is the member's
   * first topic, so that the driver can arrange for `leaveAll` when the member ends.
   */
  subscribe(member: Member, topic: string): boolean {
    let topics = this.memberships.get(member)
    const first = topics === undefined
    if (topics === undefined) {
      topics = new Set()
      this.memberships.set(member, topics)
    }
    if (topics.has(topic)) return first
    topics.add(topic)
    const entry = this.topics.get(topic)
    if (entry !== undefined) {
      entry.members.add(member)
      return first
    }
    this.topics.set(topic, { members: new Set([member]), extra: this.extraOf(topic), dropped: 0 })
    this.onFirst(topic)
    return first
  }

  unsubscribe(member: Member, topic: string): void {
    const topics = this.memberships.get(member)
    if (topics === undefined || !topics.delete(topic)) return
    this.remove(member, topic)
  }

  /** Drops every subscription of `member`. */
  leaveAll(member: Member): void {
    const topics = this.memberships.get(member)
    if (topics === undefined) return
    this.memberships.delete(member)
    for (const topic of topics) this.remove(member, topic)
  }

  /** The topic, while it has subscribers. */
  topic(topic: string): Topic<Member, Extra> | undefined {
    return this.topics.get(topic)
  }

  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.members.size ?? 0
  }

  topicNames(): ReadonlyArray<string> {
    return Array.from(this.topics.keys())
  }

  private remove(member: Member, topic: string): void {
    const entry = this.topics.get(topic)
    if (entry === undefined || !entry.members.delete(member) || entry.members.size > 0) return
    // nothing of a topic outlives its last subscriber: a process with many short-lived topics stays small
    this.topics.delete(topic)
    this.onLast(topic)
  }
}
