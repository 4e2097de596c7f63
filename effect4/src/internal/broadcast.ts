/**
 * One node's subscriptions: which connections of this process are subscribed to which topic, and
 * delivery of a message to them. No sockets: a message goes to each subscriber's transport.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { Shared } from "../Acceptor.js"
import type { Connection } from "../Connection.js"
import type { ConnectionImpl } from "./connection.js"
import * as Close from "./core/close.js"
import { Subscriptions } from "./core/hub.js"
import * as Metrics from "./metrics.js"
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

export interface Service {
  readonly [TypeId]: typeof TypeId
  readonly subscribe: (connection: Connection, topic: string) => Effect.Effect<void>
  readonly unsubscribe: (connection: Connection, topic: string) => Effect.Effect<void>
  readonly publish: (
    topic: string,
    data: string | Uint8Array,
    except: Connection | undefined
  ) => Effect.Effect<void, BroadcastError>
  readonly subscriberCount: (topic: string) => Effect.Effect<number>
  readonly topics: Effect.Effect<ReadonlyArray<string>>
  readonly dropped: (topic: string) => Effect.Effect<number>
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

  constructor(
    private readonly whenFull: (topic: string) => WhenFull | undefined,
    private readonly metricsTopic: (topic: string) => string = sameLabel,
    onFirst?: (topic: string) => void,
    onLast?: (topic: string) => void
  ) {
    this.subscriptions = new Subscriptions((topic) => Metrics.topicLabel(this.metricsTopic(topic)), onFirst, onLast)
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
    return this.subscriptions.topic(topic)?.dropped ?? 0
  }
}

export const connectionImpl = (connection: Connection): ConnectionImpl => connection as ConnectionImpl

/** The service over a hub; `publish` is told what to do beyond this process (nothing, in memory). */
export const make = (
  hub: Hub,
  beyond: (topic: string, message: Shared) => Effect.Effect<void, BroadcastError> = () => Effect.void
): Service => ({
  [TypeId]: TypeId,
  subscribe: (connection, topic) => Effect.sync(() => hub.subscribe(connectionImpl(connection), topic)),
  unsubscribe: (connection, topic) => Effect.sync(() => hub.unsubscribe(connectionImpl(connection), topic)),
  publish: (topic, data, except) =>
    Effect.suspend(() => {
      Metrics.broadcastPublished.unsafeUpdate(1, hub.labels(topic))
      const message = share(data)
      hub.deliver(topic, message, except)
      return beyond(topic, message)
    }),
  subscriberCount: (topic) => Effect.sync(() => hub.subscriberCount(topic)),
  topics: Effect.sync(() => hub.topicNames()),
  dropped: (topic) => Effect.sync(() => hub.dropped(topic))
})

const sizeOf = (message: Shared): number =>
  typeof message.data === "string" ? Metrics.textBytes(message.data) : message.data.byteLength
