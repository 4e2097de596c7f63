/**
 * Who is in a topic, across servers: Phoenix.Presence for this library, typed with `effect/Schema`.
 *
 * A connection is tracked in a topic with a meta (`track`), grouped under a key (a user id with
 * several tabs is one key with several entries), and untracked when the connection ends, by
 * construction, or at `untrack`. Every change of a topic reaches the topic's subscribers
 * (`Broadcast.subscribe`) as one JSON frame, a `presence_diff` with the joins and leaves by key, and
 * the `changes` streams; `list` and `state` say who is there now, `sendState` sends it to a
 * connection as a `presence_state` frame (what a client starts from).
 *
 * - **One process** with `Broadcast.layer`; **many** with `BroadcastRedis.layer`: each process keeps
 *   its own members in Redis with a liveness key, announces every change, and applies the others' in
 *   order. A process that dies without closing its layer (SIGKILL) has its members removed on every
 *   other process within the liveness's time to live and a sweep (`BroadcastRedis.Options.presence`:
 *   15 seconds by default); a Redis restarted empty is filled again by the live processes within a
 *   heartbeat (about `ttl / 3`), with nothing for the app to do; a change lost on the way (a Redis
 *   outage) is repaired within a sweep.
 * - **Ordered.** Each diff carries `stream` and `seq`: one server's numbering of one topic, 1, 2, 3...
 *   A `presence_state` carries the position its diffs continue from. A client keeps the state, applies
 *   a diff whose `seq` is the next of its `stream`, ignores an older one, and asks for the state again
 *   on a gap (a diff dropped because the connection's buffer was full) or after a reconnect. All
 *   servers converge on the same members; the diffs a client sees are its own server's view, in order.
 * - **Typed.** `Presence.make({ meta })` decodes the metas of `list`, `state` and `changes` with the
 *   schema (an entry whose meta does not decode, from another version of the app, is left out), and
 *   `track` encodes them (the encoded meta must be JSON). The top-level functions take any JSON meta.
 *
 * How it differs from Phoenix: Phoenix.Tracker replicates presence between nodes that talk to each
 * other, merging replicas with a CRDT (an add-wins observed-remove set with per-node clocks), since no
 * node holds the truth. Here Redis is central: only the server a connection runs on changes its entry,
 * each server's entries live in a Redis hash written in the same transaction as the change it
 * announces, and a per-server change number tells a receiver when it missed one, so it reads that
 * server's hash again instead of merging. Like Phoenix, a dead server's members leave after a delay
 * (Phoenix's `down_period`, 30 s by default; here `1.5 * ttl`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Broadcast, Presence, Upgrade } from "effect-websocket"
 *
 * const RoomPresence = Presence.make({
 *   meta: Schema.Struct({ name: Schema.String }),
 *   key: (meta) => meta.name
 * })
 * const onInit = (connection: import("effect-websocket").Connection.Connection) =>
 *   Effect.gen(function*() {
 *     yield* Broadcast.subscribe(connection, "room:lobby") // diffs arrive as presence_diff frames
 *     yield* RoomPresence.sendState(connection, "room:lobby") // who is there, to start from
 *     yield* RoomPresence.track(connection, "room:lobby", { name: "ann" }) // a diff, seq after the state's
 *     return Upgrade.initial(null)
 *   })
 * ```
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Broadcast } from "./Broadcast.js"
import type { Connection } from "./Connection.js"
import { type SendError, sendText } from "./Connection.js"
import { capacityOf, connectionImpl } from "./internal/broadcast.js"
import type { OptionsError } from "./internal/options.js"
import type * as internal from "./internal/presence.js"

/**
 * One tracked connection in a topic: `ref` names it (unique per connection and topic, across
 * servers), `meta` is what it was tracked with.
 * @since 0.1.0
 * @category models
 */
export interface Entry<Meta> extends internal.PresenceEntry<Meta> {}

/**
 * A topic's entries grouped by key, in the order each key's latest entry joined.
 * @since 0.1.0
 * @category models
 */
export type Presences<Meta> = internal.Presences<Meta>

/**
 * Who is in a topic now, with the position (`stream`, `seq`) its next diff follows: the
 * `presence_state` frame of `sendState`.
 * @since 0.1.0
 * @category models
 */
export interface State<Meta> extends internal.State<Meta> {}

/**
 * What changed in a topic: the entries that joined and left, by key (a meta update is a leave of the
 * old meta and a join of the new one, under the same ref). `seq` follows the previous diff's in
 * `stream`. The `presence_diff` frame the topic's subscribers get.
 * @since 0.1.0
 * @category models
 */
export interface Diff<Meta> extends internal.Change<Meta> {}

/**
 * Presence with typed metas, made by `make`.
 * @since 0.1.0
 * @category models
 */
export interface Presence<Meta, I> {
  /**
   * Tracks `connection` in `topic` with `meta`, under `options.key` (default: the definition's `key`
   * of the meta, or else the connection's id). Tracking it again in the same topic updates its meta.
   * Untracked when the connection ends. Fails with a `ParseError` only when the meta does not encode,
   * or its encoded form is not JSON.
   */
  readonly track: (
    connection: Connection,
    topic: string,
    meta: Meta,
    options?: { readonly key?: string | undefined }
  ) => Effect.Effect<void, ParseResult.ParseError, Broadcast>
  /** Stops tracking `connection` in `topic` (nothing if it was not tracked there). */
  readonly untrack: (connection: Connection, topic: string) => Effect.Effect<void, never, Broadcast>
  /** Who is in `topic` now, on every server, grouped by key. */
  readonly list: (topic: string) => Effect.Effect<Presences<Meta>, never, Broadcast>
  /** `list` with the position the topic's next diff follows. */
  readonly state: (topic: string) => Effect.Effect<State<Meta>, never, Broadcast>
  /**
   * Sends `connection` the topic's state as a `presence_state` JSON text frame. The diffs it gets
   * afterwards (as a subscriber of the topic) continue from the state's `seq`.
   */
  readonly sendState: (connection: Connection, topic: string) => Effect.Effect<void, SendError, Broadcast>
  /**
   * The topic's diffs as a `Stream`, live when the effect returns: a selector that turns them into the
   * app's own messages. At most `capacity` wait (default 1024); beyond that diffs are dropped, and the
   * next one's `seq` shows the gap. Ends when the connection ends. Fails with `OptionsError` on an
   * invalid capacity.
   */
  readonly changes: (
    connection: Connection,
    topic: string,
    options?: { readonly capacity?: number | undefined }
  ) => Effect.Effect<Stream.Stream<Diff<Meta>>, OptionsError, Broadcast>
  /** The schema of a `presence_state` frame, for a protocol's outgoing messages or a client. */
  readonly State: Schema.Schema<State<Meta>, State<I>>
  /** The schema of a `presence_diff` frame. */
  readonly Diff: Schema.Schema<Diff<Meta>, Diff<I>>
}

const decodePresences = <Meta>(
  decode: (u: unknown) => Either.Either<Meta, ParseResult.ParseError>,
  presences: internal.Presences<unknown>
): Presences<Meta> => {
  const out: Record<string, Array<Entry<Meta>>> = {}
  for (const key in presences) {
    const entries: Array<Entry<Meta>> = []
    for (const entry of presences[key]) {
      const meta = decode(entry.meta)
      if (Either.isRight(meta)) entries.push({ ref: entry.ref, meta: meta.right })
    }
    if (entries.length > 0) out[key] = entries
  }
  return out
}

/**
 * Presence whose metas are typed by `meta`; `key` groups the entries (a user id), by default each
 * connection is its own key.
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Presence } from "effect-websocket"
 * const Players = Presence.make({
 *   meta: Schema.Struct({ user: Schema.String, status: Schema.Literal("online", "away") }),
 *   key: (meta) => meta.user
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <Meta, I>(options: {
  readonly meta: Schema.Schema<Meta, I>
  readonly key?: ((meta: Meta) => string) | undefined
}): Presence<Meta, I> => {
  const encode = Schema.encode(options.meta)
  const decode = Schema.decodeUnknownEither(options.meta)
  const keyOf = options.key
  const entry = Schema.Struct({ ref: Schema.String, meta: options.meta })
  const presences = Schema.Record({ key: Schema.String, value: Schema.Array(entry) })
  const position = { topic: Schema.String, stream: Schema.String, seq: Schema.Number }
  const state = (topic: string) =>
    Effect.map(Broadcast, (broadcast) => {
      const raw = broadcast.presence.state(topic)
      return { ...raw, presences: decodePresences(decode, raw.presences) } as State<Meta>
    })
  return {
    track: (connection, topic, meta, trackOptions) =>
      Effect.flatMap(Effect.flatMap(encode(meta), asJson), (encoded) =>
        Effect.map(Broadcast, (broadcast) => {
          const key = trackOptions?.key ?? keyOf?.(meta) ?? connection.id
          broadcast.presence.track(connectionImpl(connection), topic, key, encoded)
        })),
    untrack: (connection, topic) =>
      Effect.map(Broadcast, (broadcast) => broadcast.presence.untrack(connectionImpl(connection), topic)),
    list: (topic) => Effect.map(state(topic), (s) => s.presences),
    state,
    sendState: (connection, topic) =>
      Effect.flatMap(Broadcast, (broadcast) => {
        // the metas as stored: encoded already, and those that do not decode left out as in `list`
        const raw = broadcast.presence.state(topic)
        const decoded = decodePresences(decode, raw.presences)
        const kept: Record<string, ReadonlyArray<internal.PresenceEntry<unknown>>> = {}
        for (const key in decoded) {
          const refs = new Set(decoded[key].map((e) => e.ref))
          kept[key] = raw.presences[key].filter((e) => refs.has(e.ref))
        }
        return sendText(connection, JSON.stringify({ ...raw, presences: kept }))
      }),
    changes: (connection, topic, changesOptions) =>
      Effect.flatMap(
        capacityOf("Presence.changes capacity", changesOptions?.capacity),
        (capacity) =>
          Effect.flatMap(Broadcast, (broadcast) =>
            Effect.map(
              broadcast.presence.changes(connectionImpl(connection), topic, capacity),
              Stream.map((diff): Diff<Meta> => ({
                ...diff,
                joins: decodePresences(decode, diff.joins),
                leaves: decodePresences(decode, diff.leaves)
              }))
            ))
      ),
    State: Schema.Struct({ type: Schema.Literal("presence_state"), ...position, presences }) as any,
    Diff: Schema.Struct({
      type: Schema.Literal("presence_diff"),
      ...position,
      joins: presences,
      leaves: presences
    }) as any
  }
}

/**
 * The encoded meta as the JSON value every server will read (a `Date` becomes its string, an
 * `undefined` field goes), or a `ParseError` when it is not JSON (a bigint, a cycle).
 */
const asJson = (encoded: unknown): Effect.Effect<unknown, ParseResult.ParseError> =>
  Effect.try({
    try: () => JSON.parse(JSON.stringify(encoded) ?? "null"),
    catch: (error) =>
      new ParseResult.ParseError({
        issue: new ParseResult.Type(
          Schema.Unknown.ast,
          encoded,
          `a presence meta must encode to JSON: ${error instanceof Error ? error.message : String(error)}`
        )
      })
  })

const untyped: Presence<unknown, unknown> = make({ meta: Schema.Unknown })

/**
 * Tracks `connection` in `topic` with a JSON `meta` (see `Presence.track` of `make` for typed metas).
 * @since 0.1.0
 * @category tracking
 */
export const track: Presence<unknown, unknown>["track"] = untyped.track

/**
 * Stops tracking `connection` in `topic`.
 * @since 0.1.0
 * @category tracking
 */
export const untrack: Presence<unknown, unknown>["untrack"] = untyped.untrack

/**
 * Who is in `topic` now, on every server, grouped by key.
 * @since 0.1.0
 * @category inspection
 */
export const list: Presence<unknown, unknown>["list"] = untyped.list

/**
 * `list` with the position the topic's next diff follows.
 * @since 0.1.0
 * @category inspection
 */
export const state: Presence<unknown, unknown>["state"] = untyped.state

/**
 * Sends `connection` the topic's state as a `presence_state` JSON text frame.
 * @since 0.1.0
 * @category inspection
 */
export const sendState: Presence<unknown, unknown>["sendState"] = untyped.sendState

/**
 * The topic's diffs as a `Stream` for `connection`, live when the effect returns.
 * @since 0.1.0
 * @category streams
 */
export const changes: Presence<unknown, unknown>["changes"] = untyped.changes
