/**
 * A Redis backplane for `Broadcast`: several processes (a cluster's workers, several machines) share
 * topics, so that a publish on any of them reaches the subscribers of all.
 *
 * Each process keeps its own subscriptions, as with `Broadcast.layer`, and talks to Redis with two
 * `ioredis` connections, one to publish and one to subscribe. A process subscribes to a topic's
 * channel (`prefix` + topic) when the topic gets its first subscriber in that process and
 * unsubscribes when the last one leaves; a publish is delivered to the local subscribers at once and
 * crosses Redis once, whatever the number of subscribers on each process, which each deliver it to
 * their own. A process ignores its own publishes coming back from Redis.
 *
 * **Delivery is at most once**, as Redis Pub/Sub is (and socket.io's Redis adapter, and Phoenix
 * PubSub): a message published while a process is disconnected from Redis does not reach that
 * process's subscribers, and nothing is replayed. An app that must not lose a message keeps it
 * somewhere durable (a database, a Redis Stream) with a sequence number, sends the number with each
 * broadcast, and has a client that sees a gap (or reconnects) fetch what it missed.
 *
 * **When Redis goes away**, `publish` fails at once with `BroadcastError` (the local subscribers did
 * get the message), subscriptions keep working locally, and the layer reconnects with backoff and
 * resubscribes every channel by itself: nothing restarts, nothing crashes. The connection's loss and
 * return are logged once each (warning, info); every failed attempt is logged at debug level.
 *
 * **Closing the layer** ends both connections in order (`QUIT`) and returns once Redis has closed
 * them, or, when Redis does not answer, drops them after `closeTimeout`: it never waits for an
 * unreachable Redis, and its own shutdown logs nothing above debug level. The connections are named
 * `effect-websocket:publish` and `effect-websocket:subscribe` in Redis's `CLIENT LIST`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as BroadcastRedis from "effect-websocket/BroadcastRedis"
 * const BroadcastLive = BroadcastRedis.layer({ url: "redis://127.0.0.1:6379" })
 * ```
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as IORedis from "ioredis"
import type { Redis, RedisOptions } from "ioredis"
import * as Broadcast from "./Broadcast.js"
import * as internal from "./internal/broadcast.js"
import { type Change, decodeChange } from "./internal/core/presenceNode.js"
import { type RedisClient, RedisPresenceStore } from "./internal/core/presenceRedis.js"
import * as Presence from "./internal/presence.js"
import { defaultSettings } from "./internal/presence.js"

/**
 * `ioredis`, an optional peer dependency loaded when a layer is built: an app that never uses Redis
 * does not install it, and one that uses this module without it fails at startup with a message
 * saying what to install.
 */
const ioredis: Effect.Effect<typeof IORedis> = Effect.tryPromise({
  try: () => import("ioredis"),
  catch: (cause) =>
    new Error(
      "effect-websocket/BroadcastRedis needs the ioredis package, an optional peer dependency: " +
        "npm install ioredis@^5",
      { cause }
    )
}).pipe(Effect.orDie)

/**
 * Options of the Redis backplane.
 * @since 2.0.0
 * @category models
 */
export interface Options extends Broadcast.Options {
  /** The Redis server, as a `redis://` URL. Default `redis://127.0.0.1:6379`. */
  readonly url?: string | undefined
  /** Put before each topic to make its channel name. Default `"effect-websocket:"`. */
  readonly prefix?: string | undefined
  /**
   * How long building the layer waits for Redis (a number is milliseconds). Past it the layer is
   * built anyway (a warning is logged) and keeps connecting: the app serves, broadcasting locally
   * meanwhile. Default 5 seconds.
   */
  readonly connectTimeout?: Duration.Input | undefined
  /**
   * How long `subscribe` waits for Redis to confirm a new channel (a number is milliseconds), while
   * Redis is connected. Past it `subscribe` returns anyway (a warning is logged, once until Redis confirms
   * again): the subscription is live in this process at once, and across nodes once Redis confirms
   * it, so a Redis that accepts connections but does not answer cannot hold `onInit` until
   * `initTimeout`. Default 5 seconds.
   */
  readonly subscribeTimeout?: Duration.Input | undefined
  /**
   * How long closing the layer waits for Redis to end each connection it opened (`QUIT`; a number is
   * milliseconds). Past it the connection is dropped (`disconnect`), and closing waits as long again
   * at most for its socket to close, so that an unreachable Redis cannot hold a shutdown. Default 1
   * second.
   */
  readonly closeTimeout?: Duration.Input | undefined
  /**
   * An `ioredis` client of the app's to publish on, instead of a connection of the layer's own: an
   * app that keeps state in Redis then needs two connections in all, not three. The app owns it: the
   * layer neither connects nor closes it (close it after the layer, in a scope around the layer's),
   * and a publish while Redis is away follows that client's `enableOfflineQueue` (the layer's own
   * publish connection fails at once). Subscribing always takes a connection of its own, which the
   * layer opens and closes.
   */
  readonly publisher?: Redis | undefined
  /**
   * More `ioredis` options, for both connections (TLS, a password, a `retryStrategy`...). A
   * `connectionName` becomes the two connections' prefix: `<connectionName>:publish` and
   * `<connectionName>:subscribe` (default `effect-websocket`).
   */
  readonly redis?: RedisOptions | undefined
  /**
   * Presence across the processes (`effect-websocket/Presence`): each process keeps its tracked
   * entries in Redis under `<prefix>@presence:` with a liveness key that expires `ttl` after its last
   * heartbeat (heartbeats every `ttl / 3`); every process sweeps every `ttl / 2`, so the members of a
   * process that dies without closing the layer (SIGKILL, a lost machine) leave everywhere within
   * `1.5 * ttl` (15 seconds by default). A process closing the layer removes its members at once.
   * `frames` as in `Broadcast.Options`. Topics starting with `@presence:` are reserved.
   */
  readonly presence?: {
    /** Time to live of a process's liveness in Redis (a number is milliseconds). Default 10 seconds. */
    readonly ttl?: Duration.Input | undefined
    readonly frames?: boolean | undefined
  } | undefined
}

const version = 1
const textKind = 0
const binaryKind = 1
const originLength = 16

/** `version, kind, origin (16 bytes), payload`: what crosses Redis for one publish. */
const encode = (origin: Buffer, data: string | Uint8Array): Buffer => {
  const payload = typeof data === "string" ? Buffer.from(data, "utf8") : data
  const buffer = Buffer.allocUnsafe(2 + originLength + payload.length)
  buffer[0] = version
  buffer[1] = typeof data === "string" ? textKind : binaryKind
  origin.copy(buffer, 2)
  buffer.set(payload, 2 + originLength)
  return buffer
}

/** A duration option in milliseconds (a number is milliseconds, as `Duration.Input` reads it). */
const millis = (value: Duration.Input | undefined, fallback: number): number =>
  value === undefined ? fallback : Duration.toMillis(value)

/** Resolves once the app's own client is ready; it connects by itself (or the app connects it). */
const whenReady = (redis: Redis): Promise<void> =>
  redis.status === "ready" ? Promise.resolve() : new Promise((resolve) => redis.once("ready", () => resolve()))

/**
 * Succeeds once `redis` has ended: its socket closed, and it will not reconnect. `start` is what ends
 * it. Between two reconnection attempts there is no socket, and `disconnect` cancels the next one
 * without an "end" event. Interruptible, so that a timeout can end the wait in a finalizer too.
 */
const ended = (redis: Redis, start: () => void): Effect.Effect<void> =>
  Effect.interruptible(Effect.callback<void>((resume) => {
    const done = () => resume(Effect.void)
    if (redis.status === "end") return done()
    redis.once("end", done)
    const socketless = redis.status === "reconnecting"
    start()
    if (socketless) {
      redis.off("end", done)
      return done()
    }
    return Effect.sync(() => {
      redis.off("end", done)
    })
  }))

/**
 * Ends `redis` in order (`QUIT`, once the replies it waits for are in) and waits for its socket to
 * close; a Redis that does not answer within `timeout` gets a `disconnect`, and as long again.
 */
const close = (redis: Redis, timeout: number): Effect.Effect<void> =>
  ended(redis, () => {
    if (redis.status === "ready") redis.quit().catch(() => redis.disconnect())
    else redis.disconnect()
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.andThen(
          Effect.logDebug(`effect-websocket: Redis did not end the connection within ${timeout} ms; dropping it`),
          Effect.timeoutOrElse(ended(redis, () => redis.disconnect()), {
            duration: timeout,
            orElse: () =>
              Effect.logDebug(`effect-websocket: the Redis connection's socket is still closing after ${timeout} ms`)
          })
        )
    })
  )

/**
 * The broadcast service with a Redis backplane, in a scope: closing the scope ends the two Redis
 * connections and waits for them to close (at most `closeTimeout` twice when Redis does not answer).
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<Broadcast.Broadcast, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { Redis } = yield* ioredis
    // what the connections' events log runs with the layer's context (its logger, its log level)
    const context = yield* Effect.context<never>()
    const log = (effect: Effect.Effect<void>) => Effect.runForkWith(context)(effect)
    const url = options?.url ?? "redis://127.0.0.1:6379"
    const prefix = options?.prefix ?? "effect-websocket:"
    const origin = Buffer.from(crypto.getRandomValues(new Uint8Array(originLength)))
    const name = options?.redis?.connectionName ?? "effect-websocket"
    /** Set when the scope closes: the connections' ends from then on are ours, not a loss. */
    let closing = false
    const connect = (role: string, extra: RedisOptions) => {
      const redis = new Redis(url, {
        ...options?.redis,
        ...extra,
        connectionName: `${name}:${role}`,
        lazyConnect: true
      })
      let lost = false
      redis.on(
        "error",
        (error: Error) => log(Effect.logDebug(`effect-websocket: Redis ${role} connection: ${error.message}`))
      )
      redis.on("close", () => {
        if (lost || closing) return
        lost = true
        log(Effect.logWarning(`effect-websocket: lost the Redis ${role} connection, reconnecting`))
      })
      redis.on("ready", () => {
        if (!lost) return
        lost = false
        log(Effect.logInfo(`effect-websocket: Redis ${role} connection back`))
      })
      return redis
    }
    // a publish fails at once when Redis is away instead of waiting in a queue
    const owned = options?.publisher === undefined
    // and one in flight when the connection drops fails then too (ioredis would otherwise hold it for
    // 20 reconnection attempts, half a minute, and send it after Redis is back)
    const publisher = options?.publisher ??
      connect("publish", { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    // subscriptions made while Redis is away wait for it, and every channel is resubscribed on reconnect
    const subscriber = connect("subscribe", {
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true
    })
    const closeTimeout = millis(options?.closeTimeout, 1_000)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        return Effect.all([owned ? close(publisher, closeTimeout) : Effect.void, close(subscriber, closeTimeout)], {
          concurrency: "unbounded",
          discard: true
        })
      })
    )

    /** Channel subscriptions sent and not yet confirmed, by topic. */
    const pending = new Map<string, Promise<void>>()
    const hub: internal.Hub = new internal.Hub(
      internal.policyOf(options?.whenFull),
      options?.metricsTopic,
      (topic) => {
        const done = subscriber.subscribe(prefix + topic).then(
          () => {},
          (error: Error) => {
            if (closing) return
            log(Effect.logWarning(`effect-websocket: Redis could not subscribe to ${prefix + topic}: ${error.message}`))
          }
        ).finally(() => {
          if (pending.get(topic) === done) pending.delete(topic)
        })
        pending.set(topic, done)
      },
      (topic) => {
        pending.delete(topic)
        subscriber.unsubscribe(prefix + topic).catch(() => {
          // the connection is gone: a resubscribe after it comes back skips this channel
        })
      }
    )
    const server = origin.toString("hex")
    const presenceStore = new RedisPresenceStore(publisher as unknown as RedisClient, `${prefix}@presence:`)
    const presenceChannel = Buffer.from(presenceStore.channel, "utf8")
    const settings = defaultSettings(millis(options?.presence?.ttl, 10_000), options?.presence?.frames ?? true)
    /** Set once the presence node exists; changes before it are read in its first resync. */
    const presence: { receive?: (change: Change) => void } = {}
    subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => {
      if (channel.equals(presenceChannel)) {
        const change = decodeChange(message.toString("utf8"))
        if (change !== undefined) presence.receive?.(change)
        return
      }
      if (message.length < 2 + originLength || message[0] !== version) return
      if (message.subarray(2, 2 + originLength).equals(origin)) return
      const topic = channel.toString("utf8").slice(prefix.length)
      const payload = message.subarray(2 + originLength)
      hub.deliver(topic, internal.share(message[1] === textKind ? payload.toString("utf8") : payload), undefined)
    })

    const connectTimeout = millis(options?.connectTimeout, 5_000)
    const subscribeTimeout = millis(options?.subscribeTimeout, 5_000)
    let slowWarned = false
    const ready = yield* Effect.promise(() =>
      Promise.all([owned ? publisher.connect() : whenReady(publisher), subscriber.connect()]).then(
        () => true,
        () => false
      )
    ).pipe(Effect.timeoutOrElse({ duration: connectTimeout, orElse: () => Effect.succeed(false) }))
    if (!ready) {
      yield* Effect.logWarning(
        `effect-websocket: Redis at ${url} is not reachable yet; broadcasting in this process only until it is`
      )
    }

    const service = internal.make(
      server,
      hub,
      (topic, message) =>
        Effect.tryPromise({
          try: () => publisher.publish(prefix + topic, encode(origin, message.data)),
          catch: (cause) => new internal.BroadcastError({ reason: "Unavailable", cause })
        }).pipe(Effect.asVoid),
      {
        store: presenceStore,
        settings,
        failed: (operation, error) =>
          log(
            Effect.logDebug(
              `effect-websocket: presence ${operation} failed: ${
                error instanceof Error ? error.message : String(error)
              }`
            )
          )
      }
    )
    const node = service.presence.node
    presence.receive = (change) => node.receive(change)
    // the presence channel: waited for while Redis is there (so that no change is missed from the first
    // resync on), queued until it is otherwise (and the resync on its return reads everything)
    const presenceSubscribed = subscriber.subscribe(presenceStore.channel).then(() => {}, () => {})
    if (ready) yield* Effect.promise(() => presenceSubscribed).pipe(Effect.timeout(subscribeTimeout), Effect.ignore)
    // changes published while this process was cut off from Redis are lost: read every server again
    subscriber.on("ready", () => {
      if (closing) return
      node.start().catch((error) =>
        log(
          Effect.logDebug(
            `effect-websocket: presence resync failed: ${error instanceof Error ? error.message : String(error)}`
          )
        )
      )
    })
    // the presence's members of the other servers are listed when the layer is built, if Redis is there
    yield* Presence.run(service.presence, connectTimeout, ready)
    return {
      ...service,
      // live across nodes when it returns: waits for Redis to confirm a new channel, unless Redis is away
      subscribe: (connection, topic) =>
        Effect.suspend(() => {
          hub.subscribe(internal.connectionImpl(connection), topic)
          const confirmed = pending.get(topic)
          if (confirmed === undefined || subscriber.status !== "ready") return Effect.void
          return Effect.timeoutOrElse(
            Effect.promise(() => confirmed).pipe(Effect.andThen(Effect.sync(() => {
              slowWarned = false
            }))),
            {
              duration: subscribeTimeout,
              orElse: () => {
                if (slowWarned) return Effect.void
                slowWarned = true
                return Effect.logWarning(
                  `effect-websocket: Redis has not confirmed the subscription to ${prefix + topic} within ` +
                    `${subscribeTimeout} ms; it is live in this process now, and on the other nodes once Redis ` +
                    "confirms it (said once until Redis answers again)"
                )
              }
            }
          )
        })
    } satisfies Broadcast.Broadcast
  })

/**
 * The broadcast service with a Redis backplane, as a Layer; the Redis connections close with it.
 * @example
 * ```ts
 * import { Config, Effect, Layer, Option } from "effect"
 * import { Broadcast } from "effect-websocket"
 * import * as BroadcastRedis from "effect-websocket/BroadcastRedis"
 * // Redis when REDIS_URL is set, this process alone otherwise
 * const BroadcastLive = Layer.unwrap(
 *   Effect.map(Config.option(Config.String("REDIS_URL")), (url) =>
 *     Option.isSome(url) ? BroadcastRedis.layer({ url: url.value }) : Broadcast.layer())
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Broadcast.Broadcast> =>
  Layer.effect(Broadcast.Broadcast, make(options))
