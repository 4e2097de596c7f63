/**
 * Send one message to every connection subscribed to a topic: chat rooms, live dashboards,
 * notifications.
 *
 * A connection subscribes to topics (`subscribe`), anything publishes to a topic (`publish`, from a
 * handler, an HTTP route or a scheduled job), and the message is written to every subscriber's
 * socket at once. The subscription is live when `subscribe` returns, and it ends when the connection
 * ends (by construction: there is nothing to clean up) or at `unsubscribe`.
 *
 * - **Encoded once.** A message is serialized once and, on connections without compression, framed
 *   once: the same bytes are written to every socket, in order with the connection's own sends, and
 *   the sends of one event-loop turn leave in one write per socket.
 * - **Nobody waits for a slow subscriber.** A publish never waits. A subscriber whose socket already
 *   holds its route's `outbound.highWaterMark` of unsent bytes misses the message (counted by
 *   `dropped`) or is closed with 1008 (as uWebSockets' `closeOnBackpressureLimit`): as its route's
 *   `outbound.policy` says ("close" closes; "fail" and "suspend", the default, drop: a publish cannot
 *   wait), unless the layer's `whenFull` decides for all subscribers or per topic.
 * - **One process or many.** `layer` keeps everything in this process. `BroadcastRedis.layer` (module
 *   `effect-websocket/BroadcastRedis`) adds a Redis backplane so that a publish on one process or
 *   machine reaches the subscribers of every other; `subscriberCount` and `topics` stay per process.
 *   Delivery is at most once, in order per publisher and topic.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Broadcast, Upgrade } from "effect-websocket"
 *
 * // everyone connected to this route hears everyone else
 * const room = Upgrade.upgradeWebSocket({
 *   onInit: (connection) =>
 *     Effect.as(Broadcast.subscribe(connection, "lobby"), Upgrade.initial(null)),
 *   onMessage: (state, message, connection) =>
 *     message._tag === "TextMessage"
 *       ? Effect.as(
 *         Effect.orDie(Broadcast.publish("lobby", message.text, { except: connection })),
 *         Action.continueConnection(state)
 *       )
 *       : Effect.succeed(Action.continueConnection(state)),
 *   onClose: () => Effect.void
 * })
 * // served with `Layer.provide(Broadcast.layer())`
 * ```
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import type { Connection } from "./Connection.js"
import * as internal from "./internal/broadcast.js"
import type { OptionsError } from "./internal/options.js"
import { defaultSettings } from "./internal/presence.js"

/**
 * Unique identifier of `Broadcast` values.
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The broadcast service: this process's subscriptions, and how a publish leaves the process (not at
 * all in memory; through Redis with `BroadcastRedis.layer`).
 * @since 0.1.0
 * @category models
 */
export interface Broadcast extends internal.Service {}

/**
 * The `Broadcast` service's key (a `Context.Service`; yield it to get the service).
 * @since 2.0.0
 * @category tags
 */
export const Broadcast: Context.Service<Broadcast, Broadcast> = internal.Broadcast

/**
 * What a subscriber whose socket already holds its outbound high-water mark gets from a publish:
 * `"drop"` skips it (counted by `dropped`), `"close"` closes it with 1008 "broadcast buffer full".
 * Without one, each subscriber's route decides: `outbound.policy: "close"` closes, `"fail"` and
 * `"suspend"` drop (a publish cannot wait).
 * @since 0.1.0
 * @category models
 */
export type WhenFull = internal.WhenFull

/**
 * A publish that could not leave this process (the backplane is down). The message did reach this
 * process's subscribers.
 * @since 0.1.0
 * @category errors
 */
export const BroadcastError: typeof internal.BroadcastError = internal.BroadcastError

/**
 * @since 0.1.0
 * @category errors
 */
export type BroadcastError = internal.BroadcastError

/**
 * Options of a broadcast layer.
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * What a subscriber whose outbound buffer is full gets: one policy for every topic, or one per
   * topic. Default: the subscriber's route decides (`outbound.policy: "close"` closes with 1008,
   * `"fail"` and `"suspend"`, the default, drop).
   */
  readonly whenFull?: WhenFull | ((topic: string) => WhenFull) | undefined
  /**
   * The `topic` label of a topic in the broadcast metrics (`websocket_broadcast_published_total`,
   * `_delivered_total`, `_dropped_total`). Default: `"*"` for every topic, one series per metric
   * whatever the topics are. Effect's metric registry keeps every label it sees for as long as the
   * process lives, so the labels must come from a bounded set: `Broadcast.topicPrefix` labels
   * `room:42` as `room` (and a topic without a prefix as `"*"`); `(topic) => topic` counts each topic
   * on its own, for a few fixed topics only.
   */
  readonly metricsTopic?: ((topic: string) => string) | undefined
  /**
   * Presence (`effect-websocket/Presence`) on this layer. `frames` (default `true`) writes each
   * presence diff of a topic to the topic's subscribers as a `presence_diff` JSON frame; `false` leaves
   * diffs to `Presence.changes` streams.
   */
  readonly presence?: { readonly frames?: boolean | undefined } | undefined
}

/**
 * Where a sequenced message stands in its topic: `seq` counts 1, 2, 3... within `stream`. A stream is
 * one publishing server's numbering of one topic, so a receiver that keeps the last `seq` of each
 * stream sees a gap (a message missed: a dropped delivery, a Redis outage) or a repeat, and resyncs. A
 * stream it has not seen starts at 1 (a new server, or a topic the server had forgotten: it numbers
 * the 100,000 topics it published to last). There is no order across streams: two servers' messages
 * interleave as they arrive.
 * @since 2.0.0
 * @category models
 */
export interface Position {
  readonly stream: string
  readonly seq: number
}

/**
 * A `metricsTopic` that labels a topic by its prefix, the part before the first `:`: `room:42` and
 * `room:43` both count as `room`. A topic without a prefix (`lobby`, or a room named from user input)
 * counts as `"*"`, so that the labels stay as few as the prefixes an app uses.
 * @example
 * ```ts
 * import { Broadcast } from "effect-websocket"
 * const BroadcastLive = Broadcast.layer({ metricsTopic: Broadcast.topicPrefix })
 * // Broadcast.topicPrefix("room:42") === "room", Broadcast.topicPrefix("lobby") === "*"
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const topicPrefix: (topic: string) => string = internal.topicPrefix

/**
 * The in-memory broadcast: the whole process is one node. The default; no setup.
 * @example
 * ```ts
 * import { Broadcast } from "effect-websocket"
 * const BroadcastLive = Broadcast.layer({ whenFull: (topic) => topic.startsWith("ticker:") ? "drop" : "close" })
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Broadcast> =>
  Layer.sync(
    Broadcast,
    () =>
      internal.make(
        internal.serverId(),
        new internal.Hub(internal.policyOf(options?.whenFull), options?.metricsTopic),
        undefined,
        { settings: presenceSettings(options?.presence?.frames) }
      )
  )

const presenceSettings = (frames: boolean | undefined) => defaultSettings(undefined, frames ?? true)

/**
 * Subscribes `connection` to `topic`. Live when it returns: a publish after it reaches the
 * connection (with a backplane, a publish from any node). The subscription ends when the connection
 * ends; subscribing twice is once.
 * @since 0.1.0
 * @category subscriptions
 */
export const subscribe: {
  (topic: string): (connection: Connection) => Effect.Effect<void, never, Broadcast>
  (connection: Connection, topic: string): Effect.Effect<void, never, Broadcast>
} = dual(
  2,
  (connection: Connection, topic: string): Effect.Effect<void, never, Broadcast> =>
    Effect.flatMap(Broadcast, (broadcast) => broadcast.subscribe(connection, topic))
)

/**
 * Ends `connection`'s subscription to `topic` (nothing if it has none).
 * @since 0.1.0
 * @category subscriptions
 */
export const unsubscribe: {
  (topic: string): (connection: Connection) => Effect.Effect<void, never, Broadcast>
  (connection: Connection, topic: string): Effect.Effect<void, never, Broadcast>
} = dual(
  2,
  (connection: Connection, topic: string): Effect.Effect<void, never, Broadcast> =>
    Effect.flatMap(Broadcast, (broadcast) => broadcast.unsubscribe(connection, topic))
)

/**
 * Sends `data` (a string as a text frame, bytes as a binary frame) to every subscriber of `topic`,
 * but `except` (the sender, typically). Never waits for a subscriber. Fails with `BroadcastError`
 * only when the message could not leave this process; this process's subscribers have it anyway.
 *
 * `data` may be a function of the message's `Position` in the topic: the message is then numbered
 * (see `Position`), and the app puts the numbers in it so that clients can tell a gap.
 * @example
 * ```ts
 * import { Broadcast } from "effect-websocket"
 * // every subscriber can tell whether it missed one of this server's ticks
 * const tick = (price: number) =>
 *   Broadcast.publish("ticker", ({ seq, stream }) => JSON.stringify({ price, stream, seq }))
 * ```
 * @since 0.1.0
 * @category publishing
 */
export const publish = (
  topic: string,
  data: string | Uint8Array | ((position: Position) => string | Uint8Array),
  options?: { readonly except?: Connection | undefined }
): Effect.Effect<void, BroadcastError, Broadcast> =>
  Effect.flatMap(Broadcast, (broadcast) => broadcast.publish(topic, data, options?.except))

/**
 * What `topic` carries, as a `Stream` for `connection` to transform or filter before it sends
 * anything: a selector (`Upgrade.initialWithSelector`, `Action.continueConnectionWithSelector`)
 * whose values reach `onMessage` as `CustomMessage`s, instead of frames written to the socket
 * directly as `subscribe` does. Live when the effect returns, as `subscribe` is: a publish after it
 * (from any node, with a backplane) is in the stream, presence diff frames included.
 *
 * An invalid `capacity` fails with `OptionsError`. The stream holds at most `capacity` messages not
 * yet taken (default 1024); a publish never waits, so beyond that the connection misses messages
 * (counted by `dropped`) or is closed with 1008, as for a socket whose buffer is full (the layer's
 * `whenFull`, else the route's `outbound.policy`). It ends when the connection ends; interrupting it
 * (a selector replaced) stops the listening. Run it once: a stream that is never run, or whose
 * selector is replaced before it first ran, listens until the connection ends, holding at most
 * `capacity` messages.
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Broadcast, Upgrade } from "effect-websocket"
 * const onInit = (connection: import("effect-websocket").Connection.Connection) =>
 *   Effect.map(Broadcast.stream(connection, "ticker"), (ticks) =>
 *     Upgrade.initialWithSelector(null, Stream.filter(ticks, (tick) => typeof tick === "string")))
 * ```
 * @since 2.0.0
 * @category subscriptions
 */
export const stream = (
  connection: Connection,
  topic: string,
  options?: { readonly capacity?: number | undefined }
): Effect.Effect<Stream.Stream<string | Uint8Array>, OptionsError, Broadcast> =>
  Effect.flatMap(
    internal.capacityOf("Broadcast.stream capacity", options?.capacity),
    (capacity) => Effect.flatMap(Broadcast, (broadcast) => broadcast.stream(connection, topic, capacity))
  )

/**
 * How many connections of this process are subscribed to `topic`.
 * @since 0.1.0
 * @category inspection
 */
export const subscriberCount = (topic: string): Effect.Effect<number, never, Broadcast> =>
  Effect.flatMap(Broadcast, (broadcast) => broadcast.subscriberCount(topic))

/**
 * The topics that have subscribers in this process.
 * @since 0.1.0
 * @category inspection
 */
export const topics: Effect.Effect<ReadonlyArray<string>, never, Broadcast> = Effect.flatMap(
  Broadcast,
  (broadcast) => broadcast.topics
)

/**
 * How many deliveries to subscribers of `topic` in this process were dropped because their
 * outbound buffer was full, since the topic got its first subscriber (a topic with no subscriber left
 * is forgotten, its count with it).
 * @since 0.1.0
 * @category inspection
 */
export const dropped = (topic: string): Effect.Effect<number, never, Broadcast> =>
  Effect.flatMap(Broadcast, (broadcast) => broadcast.dropped(topic))
