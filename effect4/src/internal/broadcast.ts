/**
 * One node's subscriptions: which connections of this process are subscribed to which topic, and
 * delivery of a message to them. No sockets: a message goes to each subscriber's transport.
 */
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { Shared } from "../Acceptor.js"
import type { Connection } from "../Connection.js"
import type { ConnectionImpl } from "./connection.js"
import * as Close from "./core/close.js"
import { Subscriptions } from "./core/hub.js"
import type { PresenceStore } from "./core/presenceNode.js"
import { type Position, Sequencer } from "./core/sequence.js"
import * as Metrics from "./metrics.js"
import { OptionsError } from "./options.js"
import { defaultSettings, PresenceDriver, type Settings } from "./presence.js"
import { closeAndReport } from "./transport.js"

export const TypeId: unique symbol = Symbol.for("effect-websocket/Broadcast")

/** What a subscriber whose outbound buffer is full gets from a publish. */
export type WhenFull = "drop" | "close"

/**
 * One policy for all topics or one per topic; `undefined` (the default) leaves it to each
 * subscriber's route: its `outbound.policy` "close" closes, "fail" and "suspend" drop.
 */
export const policyOf = (
  whenFull: WhenFull | ((topic: string) => WhenFull) | undefined
): (topic: string) => WhenFull | undefined => typeof whenFull === "function" ? whenFull : () => whenFull

export class BroadcastError extends Data.TaggedError("BroadcastError")<{
  readonly reason: "Unavailable"
  readonly cause?: unknown
}> {
  override get message(): string {
    return `broadcast unavailable: the message reached this node's subscribers only${
      this.cause === undefined ? "" : ` (${this.cause instanceof Error ? this.cause.message : String(this.cause)})`
    }`
  }
}

/** What a publish carries: the data, or a function of the message's position in its topic. */
export type Publishable = string | Uint8Array | ((position: Position) => string | Uint8Array)

export interface Service {
  readonly [TypeId]: typeof TypeId
  readonly subscribe: (connection: Connection, topic: string) => Effect.Effect<void>
  readonly unsubscribe: (connection: Connection, topic: string) => Effect.Effect<void>
  readonly publish: (
    topic: string,
    data: Publishable,
    except: Connection | undefined
  ) => Effect.Effect<void, BroadcastError>
  readonly subscriberCount: (topic: string) => Effect.Effect<number>
  readonly topics: Effect.Effect<ReadonlyArray<string>>
  readonly dropped: (topic: string) => Effect.Effect<number>
  readonly stream: (
    connection: Connection,
    topic: string,
    capacity: number
  ) => Effect.Effect<Stream.Stream<string | Uint8Array>>
  readonly presence: PresenceDriver
}

export const Broadcast: Context.Service<Service, Service> = Context.Service<Service>("effect-websocket/Broadcast")

const bufferFull = { code: Close.PolicyViolation, reason: "broadcast buffer full", initiator: "error" } as const

/** A published message, encoded once per transport kind for all its subscribers. */
export const share = (data: string | Uint8Array): Shared => ({
  binary: typeof data !== "string",
  data,
  owner: undefined,
  encoded: undefined
})

/** The `topic` label of every topic by default, and of a topic without a prefix under `topicPrefix`. */
export const allTopics = "*"

/**
 * The metric label of `topic` by its prefix: the part before the first `:` (`room:42` counts as
 * `room`), or `allTopics` without one. The metric registry keeps every label it ever sees, so a
 * topic without a prefix (a room named from user input) must not become a label of its own.
 */
export const topicPrefix = (topic: string): string => {
  const colon = topic.indexOf(":")
  return colon <= 0 ? allTopics : topic.slice(0, colon)
}

const sameLabel = (): string => allTopics

/** The metric labels of one topic label, as the metrics module makes them (once per label). */
type Labels = ReturnType<typeof Metrics.topicLabel>

/**
 * The subscriptions of one process (core/hub.ts) and delivery to them. `onFirst` and `onLast` are told
 * when a topic gains its first local subscriber and loses its last (a backplane subscribes to the
 * topic's channel then).
 */
export class Hub {
  private readonly subscriptions: Subscriptions<ConnectionImpl, Labels>
  /** The topics' streams (`Broadcast.stream`), apart from the sockets so that a publish pays nothing for them. */
  private readonly listeners = new Map<string, Set<Listener>>()

  constructor(
    private readonly whenFull: (topic: string) => WhenFull | undefined,
    private readonly metricsTopic: (topic: string) => string = sameLabel,
    private readonly onFirst: (topic: string) => void = () => {},
    private readonly onLast: (topic: string) => void = () => {}
  ) {
    // a topic is live from its first subscriber, socket or stream, to its last
    this.subscriptions = new Subscriptions(
      (topic) => Metrics.topicLabel(this.metricsTopic(topic)),
      (topic) => {
        if (!this.listeners.has(topic)) this.onFirst(topic)
      },
      (topic) => {
        if (!this.listeners.has(topic)) this.onLast(topic)
      }
    )
  }

  /**
   * Adds a stream's listener to `topic`, live at once; it leaves when its connection ends or at
   * `unlisten`.
   */
  listen(listener: Listener): void {
    const connection = listener.connection
    // a connection already ending gets a stream that ends at once, as `Presence.changes` does
    if (connection.isEnding()) return listener.end()
    let set = this.listeners.get(listener.topic)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(listener.topic, set)
      if (this.subscriptions.topic(listener.topic) === undefined) this.onFirst(listener.topic)
    }
    set.add(listener)
    connection.whenEnding(() => this.unlisten(listener))
  }

  unlisten(listener: Listener): void {
    const set = this.listeners.get(listener.topic)
    if (set === undefined || !set.delete(listener)) return
    listener.end()
    if (set.size > 0) return
    this.listeners.delete(listener.topic)
    if (this.subscriptions.topic(listener.topic) === undefined) this.onLast(listener.topic)
  }

  /** Subscribes at once: a publish after this returns reaches the connection. */
  subscribe(connection: ConnectionImpl, topic: string): void {
    if (connection.isEnding()) return
    if (this.subscriptions.subscribe(connection, topic)) {
      connection.whenEnding(() => this.subscriptions.leaveAll(connection))
    }
  }

  unsubscribe(connection: ConnectionImpl, topic: string): void {
    this.subscriptions.unsubscribe(connection, topic)
  }

  /**
   * Writes `message` to every subscriber of `topic` but `except`, at once, without waiting for any.
   * A subscriber whose transport already holds its outbound `highWaterMark` is skipped (counted in
   * `dropped`) or closed with 1008, as the topic's policy says, or else its route's outbound policy.
   */
  deliver(topic: string, message: Shared, except: unknown): void {
    if (this.listeners.size !== 0) this.deliverToStreams(topic, message, except)
    const entry = this.subscriptions.topic(topic)
    if (entry === undefined) return
    let policy: WhenFull | undefined | null = null
    let delivered = 0
    let dropped = 0
    const bytes = sizeOf(message)
    for (const subscriber of entry.members) {
      if (subscriber === except) continue
      const transport = subscriber.transport
      if (transport.bufferedAmount() >= subscriber.outbound.highWaterMark) {
        if (policy === null) policy = this.whenFull(topic)
        dropped++
        if ((policy ?? (subscriber.outbound.policy === "close" ? "close" : "drop")) === "close") {
          Metrics.pressed("close")
          if (transport.isOpen()) closeAndReport(transport, subscriber.report, bufferFull)
        } else {
          Metrics.pressed("drop")
          entry.dropped++
        }
        continue
      }
      if (transport.sendShared(message) === undefined) {
        subscriber.liveness.touch()
        delivered++
        subscriber.trace?.sent(bytes)
      }
    }
    if (delivered > 0) {
      Metrics.sent(message.binary, bytes, delivered)
      Metrics.broadcastDelivered.unsafeUpdate(delivered, entry.extra)
    }
    if (dropped > 0) Metrics.broadcastDropped.unsafeUpdate(dropped, entry.extra)
  }

  private deliverToStreams(topic: string, message: Shared, except: unknown): void {
    const set = this.listeners.get(topic)
    if (set === undefined) return
    let delivered = 0
    let dropped = 0
    for (const listener of set) {
      if (listener.connection === except) continue
      if (listener.offer(message.data)) {
        delivered++
        continue
      }
      dropped++
      const subscriber = listener.connection
      const policy = this.whenFull(topic) ?? (subscriber.outbound.policy === "close" ? "close" : "drop")
      Metrics.pressed(policy)
      if (policy === "close") {
        if (subscriber.transport.isOpen()) closeAndReport(subscriber.transport, subscriber.report, bufferFull)
      } else {
        listener.dropped++
      }
    }
    // counted as the sockets' deliveries are (the bytes are counted when the handler sends)
    if (delivered > 0) Metrics.broadcastDelivered.unsafeUpdate(delivered, this.labels(topic))
    if (dropped > 0) Metrics.broadcastDropped.unsafeUpdate(dropped, this.labels(topic))
  }

  /** The metric labels of `topic`. */
  labels(topic: string): Labels {
    return this.subscriptions.topic(topic)?.extra ?? Metrics.topicLabel(this.metricsTopic(topic))
  }

  subscriberCount(topic: string): number {
    return this.subscriptions.subscriberCount(topic)
  }

  topicNames(): ReadonlyArray<string> {
    return this.subscriptions.topicNames()
  }

  dropped(topic: string): number {
    let dropped = this.subscriptions.topic(topic)?.dropped ?? 0
    for (const listener of this.listeners.get(topic) ?? []) dropped += listener.dropped
    return dropped
  }
}

/**
 * A topic's messages on their way to one connection's stream (`Broadcast.stream`): a bounded buffer the
 * hub fills without waiting and the stream drains.
 */
export interface Listener {
  readonly topic: string
  readonly connection: ConnectionImpl
  /** Deliveries missed while the buffer was full. */
  dropped: number
  /** Takes `data`, or `false` when the buffer is full. */
  offer(data: string | Uint8Array): boolean
  /** The listener left: its stream ends once drained. */
  end(): void
}

export const connectionImpl = (connection: Connection): ConnectionImpl => connection as ConnectionImpl

/** A node's id: 16 random hex digits, short enough to name every position and presence ref after it. */
export const serverId = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(8)), (byte) => byte.toString(16).padStart(2, "0")).join("")

/**
 * The service over a hub; `publish` is told what to do beyond this process (nothing, in memory), and
 * presence keeps its state in `store` (none: this process alone).
 */
export const make = (
  server: string,
  hub: Hub,
  beyond: (topic: string, message: Shared) => Effect.Effect<void, BroadcastError> = () => Effect.void,
  presence: {
    readonly store?: PresenceStore | undefined
    readonly settings: Settings
    readonly failed?: (operation: string, error: unknown) => void
  } = {
    settings: defaultSettings()
  }
): Service => {
  // the 100,000 topics published to last keep their number; one forgotten starts a new stream
  const sequencer = new Sequencer(server)
  return {
    [TypeId]: TypeId,
    subscribe: (connection, topic) => Effect.sync(() => hub.subscribe(connectionImpl(connection), topic)),
    unsubscribe: (connection, topic) => Effect.sync(() => hub.unsubscribe(connectionImpl(connection), topic)),
    publish: (topic, data, except) =>
      Effect.suspend(() => {
        Metrics.broadcastPublished.unsafeUpdate(1, hub.labels(topic))
        const message = share(typeof data === "function" ? data(sequencer.next(topic)) : data)
        hub.deliver(topic, message, except)
        return beyond(topic, message)
      }),
    subscriberCount: (topic) => Effect.sync(() => hub.subscriberCount(topic)),
    topics: Effect.sync(() => hub.topicNames()),
    dropped: (topic) => Effect.sync(() => hub.dropped(topic)),
    stream: (connection, topic, capacity) => listen(hub, connectionImpl(connection), topic, capacity),
    presence: new PresenceDriver(server, hub, presence.store, presence.settings, presence.failed)
  }
}

/**
 * A stream of `topic` for `connection`, live when this returns (see `Broadcast.stream`). Its queue
 * ends (`Done`) rather than shuts down when the listener leaves: `Stream.fromQueue` then ends the
 * stream, where a shutdown would interrupt the fiber running it.
 */
export const listen = (
  hub: Hub,
  connection: ConnectionImpl,
  topic: string,
  capacity: number
): Effect.Effect<Stream.Stream<string | Uint8Array>> =>
  Effect.map(Queue.dropping<string | Uint8Array, Cause.Done>(capacity), (queue) => {
    const listener: Listener = {
      topic,
      connection,
      dropped: 0,
      offer: (data) => Queue.offerUnsafe(queue, data),
      end: () => {
        Queue.endUnsafe(queue)
      }
    }
    hub.listen(listener)
    return Stream.ensuring(Stream.fromQueue(queue), Effect.sync(() => hub.unlisten(listener)))
  })

const sizeOf = (message: Shared): number =>
  typeof message.data === "string" ? Metrics.textBytes(message.data) : message.data.byteLength

/** A stream's capacity option: a positive integer, 1024 by default. */
export const capacityOf = (option: string, capacity: number | undefined): Effect.Effect<number, OptionsError> =>
  capacity === undefined
    ? Effect.succeed(1024)
    : Number.isSafeInteger(capacity) && capacity >= 1
    ? Effect.succeed(capacity)
    : Effect.fail(new OptionsError({ option, value: capacity, expected: "a positive integer" }))
