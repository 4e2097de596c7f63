// Two servers in one process, each with its own Redis backplane, sharing a real redis-server started
// for the test: what one server's client says reaches the other's; Redis going away and coming back.
import { HttpRouter } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Layer, Logger, LogLevel, Option, Scope, TestClock, TestServices } from "effect"
import { Action, Broadcast, Connection, type Message, Testing, Upgrade } from "effect-websocket"
import * as BroadcastRedis from "effect-websocket/BroadcastRedis"
import { Redis } from "ioredis"
import { openWs, type WsClient } from "../support/client.js"
import { sleepers } from "../support/clock.js"
import { isWarning, type LogLine, recordLogs, textOf } from "../support/logs.js"
import { redisServer } from "../support/redis.js"
import { eventually, serve, within } from "../support/server.js"

/** A room per `?room=`; a text goes to the others, and the sender hears when it did not reach every node. */
const room = Upgrade.upgradeWebSocket({
  onInit: (connection) =>
    Effect.gen(function*() {
      const query = new URL(connection.url, "http://x").searchParams
      yield* Broadcast.subscribe(connection, query.get("room")!)
      // ?ready: say when onInit is done (the 101 went out before it started)
      if (query.has("ready")) yield* Connection.sendText(connection, "ready")
      return Upgrade.initial(query.get("room")!)
    }),
  onMessage: (topic: string, message: Message.Message<never>, connection) =>
    message._tag === "TextMessage"
      ? Broadcast.publish(topic, message.text, { except: connection }).pipe(
        Effect.catchTag(
          "BroadcastError",
          (error) => Connection.sendText(connection, `not everywhere: ${error.reason}`)
        ),
        Effect.as(Action.continueConnection(topic))
      )
      : Effect.succeed(Action.continueConnection(topic)),
  onClose: () => Effect.void
}, { heartbeat: false, idleTimeout: false })

/** A server with its own backplane: one node. */
const node = (url: string, options?: BroadcastRedis.Options) =>
  Effect.gen(function*() {
    const broadcast = yield* Layer.build(BroadcastRedis.layer({ url, ...options }))
    const server = yield* serve(HttpRouter.empty.pipe(HttpRouter.get("/", room), Effect.provide(broadcast)))
    const join = (topic: string) => within("open", openWs(`ws://127.0.0.1:${server.port}/?room=${topic}`))
    const publish = (topic: string, text: string) =>
      Effect.either(Broadcast.publish(topic, text).pipe(Effect.provide(broadcast)))
    const count = (topic: string) => Broadcast.subscriberCount(topic).pipe(Effect.provide(broadcast))
    return { join, publish, count, broadcast }
  })

/** A plain Redis client for looking at the server side. */
const inspector = (url: string) =>
  Effect.acquireRelease(Effect.sync(() => new Redis(url)), (redis) => Effect.sync(() => redis.disconnect()))

const numsub = (redis: Redis, channel: string) =>
  Effect.promise(() => redis.pubsub("NUMSUB", channel) as Promise<Array<string | number>>).pipe(
    Effect.map((reply) => Number(reply[1]))
  )

const next = (client: WsClient) => client.next

/** The names of the connections Redis has now (`CLIENT LIST`), ours among them. */
const clientNames = (redis: Redis) =>
  Effect.promise(() => redis.client("LIST") as Promise<string>).pipe(
    Effect.map((list) => list.split("\n").flatMap((line) => line.match(/ name=(\S+)/)?.[1] ?? []))
  )

const ours = ["effect-websocket:publish", "effect-websocket:subscribe"]

/** Every log line at any level, for what runs with `layer` provided. */
const captureLogs = () => {
  const lines: Array<LogLine> = []
  const layer = Layer.merge(recordLogs(lines), Logger.minimumLogLevel(LogLevel.All))
  /** The lines that would alarm an operator: a warning or worse, or a word of a lost connection. */
  const alarming = (from = 0) =>
    lines.slice(from).filter((line) => isWarning(line) || /lost|reconnect/i.test(line.message)).map(textOf)
  return { lines, layer, alarming }
}

/** A backplane layer built in a scope of its own, its logs captured: `close` closes it. */
const closable = (options: BroadcastRedis.Options) =>
  Effect.gen(function*() {
    const logs = captureLogs()
    const scope = yield* Scope.make()
    // closed by the test; closed here too should the test fail first (a second close does nothing)
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const broadcast = yield* Layer.buildWithScope(BroadcastRedis.layer(options), scope).pipe(
      Effect.provide(logs.layer)
    )
    const close = Scope.close(scope, Exit.void).pipe(Effect.provide(logs.layer))
    return { logs, broadcast, close }
  })

/** Reads `client`'s messages until `text` comes (what came before it was expected noise). */
const readUntil = (client: WsClient, text: string) =>
  eventually(`${text} arrives`, Effect.map(client.next, (received) => received === text))

describe("Broadcast over Redis", () => {
  it.scopedLive(
    "a client on one server reaches clients on the other; each node subscribes a channel once",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const [one, two] = yield* Effect.all([node(redis.url), node(redis.url)])
        const look = yield* inspector(redis.url)
        const alice = yield* one.join("lobby")
        const anna = yield* one.join("lobby")
        const bob = yield* two.join("lobby")
        assert.strictEqual(yield* one.count("lobby"), 2)
        assert.strictEqual(yield* numsub(look, "effect-websocket:lobby"), 2, "one Redis subscription per node")
        // what crosses Redis: one message per publish, whatever the number of subscribers
        const crossing: Array<string> = []
        const tap = new Redis(redis.url)
        yield* Effect.addFinalizer(() => Effect.sync(() => tap.disconnect()))
        yield* Effect.promise(() => tap.subscribe("effect-websocket:lobby"))
        tap.on("message", (_channel: string, message: string) => crossing.push(message))

        alice.ws.send("hello from one")
        assert.strictEqual(yield* next(bob), "hello from one")
        assert.strictEqual(yield* next(anna), "hello from one")
        bob.ws.send("hello from two")
        assert.strictEqual(yield* next(alice), "hello from two")
        assert.strictEqual(yield* next(anna), "hello from two", "once: a node ignores its own publish coming back")
        yield* eventually("both publishes seen on Redis", Effect.sync(() => crossing.length >= 2))
        assert.strictEqual(crossing.length, 2)

        bob.ws.close()
        yield* eventually(
          "node two leaves the channel",
          Effect.map(numsub(look, "effect-websocket:lobby"), (n) => n === 2) // node one and the tap are left
        )
        assert.strictEqual(yield* two.count("lobby"), 0)
      }),
    30_000
  )

  it.scopedLive(
    "Redis killed and restarted: publish fails typed meanwhile, local delivery goes on, delivery resumes",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const [one, two] = yield* Effect.all([node(redis.url), node(redis.url)])
        const alice = yield* one.join("lobby")
        const anna = yield* one.join("lobby")
        const bob = yield* two.join("lobby")
        alice.ws.send("before")
        assert.strictEqual(yield* next(bob), "before")
        assert.strictEqual(yield* next(anna), "before")

        yield* redis.kill
        yield* eventually(
          "publish fails while Redis is down",
          Effect.map(one.publish("lobby", "probe"), Either.isLeft)
        )
        const error = yield* Effect.flip(
          Broadcast.publish("lobby", "while down").pipe(Effect.provide(one.broadcast))
        )
        assert.strictEqual(error._tag, "BroadcastError")
        assert.strictEqual(error.reason, "Unavailable")
        // the local subscribers got every publish, the probes included
        yield* readUntil(anna, "while down")
        yield* readUntil(alice, "while down")
        alice.ws.send("local only")
        assert.strictEqual(yield* next(anna), "local only", "local delivery goes on")
        assert.strictEqual(yield* next(alice), "not everywhere: Unavailable", "the sender is told, typed")

        yield* redis.restart
        // the nodes reconnect and resubscribe by themselves
        yield* eventually(
          "delivery across nodes resumes",
          Effect.flatMap(one.publish("lobby", "are you there"), (published) =>
            Either.isLeft(published)
              ? Effect.succeed(false)
              : Effect.map(Effect.either(Effect.timeout(bob.next, "200 millis")), Either.isRight)),
          20
        )
        bob.ws.send("back")
        yield* readUntil(alice, "back")
        yield* readUntil(anna, "back")
      }),
    60_000
  )

  it.scopedLive(
    "a subscribe returns once Redis confirmed the channel: a publish right after it crosses",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const [one, two] = yield* Effect.all([node(redis.url), node(redis.url)])
        for (let run = 0; run < 20; run++) {
          const topic = `run-${run}`
          const bob = yield* two.join(`${topic}&ready`)
          assert.strictEqual(yield* next(bob), "ready")
          // bob's onInit returned: the subscription is live everywhere
          assert.isTrue(Either.isRight(yield* one.publish(topic, "now")))
          assert.strictEqual(yield* next(bob), "now", `run ${run}`)
        }
      }),
    30_000
  )

  it.scopedLive(
    "subscribe waits for Redis to confirm a new channel, so nothing published after it is missed",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const [one, two] = yield* Effect.all([node(redis.url), node(redis.url)])
        yield* redis.pause
        const bob = yield* two.join("late&ready")
        // onInit is waiting in subscribe: Redis has not answered the SUBSCRIBE
        assert.isTrue(Either.isLeft(yield* Effect.either(Effect.timeout(bob.next, "300 millis"))))
        yield* redis.resume
        assert.strictEqual(yield* next(bob), "ready")
        assert.isTrue(Either.isRight(yield* one.publish("late", "now")))
        assert.strictEqual(yield* next(bob), "now")
      }),
    30_000
  )

  it.scopedLive(
    "a Redis that does not answer holds subscribe for subscribeTimeout at most: live here at once, everywhere once Redis answers",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const [one, two] = yield* Effect.all([node(redis.url), node(redis.url, { subscribeTimeout: 300 })])
        const looking = yield* inspector(redis.url)
        yield* redis.pause
        const bob = yield* two.join("stalled&ready")
        const carol = yield* two.join("stalled&ready")
        // both onInits went on past the timeout while Redis still says nothing
        assert.strictEqual(yield* within("bob's onInit done", next(bob), 5), "ready")
        assert.strictEqual(yield* within("carol's onInit done", next(carol), 5), "ready")
        // the subscription works in this process meanwhile
        carol.ws.send("local")
        assert.strictEqual(yield* next(bob), "local")
        yield* redis.resume
        yield* eventually(
          "Redis has the channel",
          Effect.map(numsub(looking, "effect-websocket:stalled"), (n) => n === 1)
        )
        assert.isTrue(Either.isRight(yield* one.publish("stalled", "from one")))
        assert.strictEqual(yield* next(bob), "from one")
        assert.strictEqual(yield* next(carol), "from one")
      }),
    30_000
  )

  it.scopedLive(
    "the layer starts while Redis is away, serves locally, and joins when Redis comes",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        yield* redis.kill
        const broadcast = yield* Layer.build(BroadcastRedis.layer({ url: redis.url, connectTimeout: 200 }))
        const publish = (text: string) => Effect.either(Broadcast.publish("t", text).pipe(Effect.provide(broadcast)))
        assert.isTrue(Either.isLeft(yield* publish("early")))
        yield* redis.restart
        yield* eventually("publishing works", Effect.map(publish("later"), Either.isRight), 20)
      }),
    40_000
  )

  it.scopedLive(
    "publishes on the app's own client (two connections in all), and leaves that client open when it closes",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* inspector(redis.url)
        const app = yield* Effect.acquireRelease(
          Effect.sync(() => new Redis(redis.url, { connectionName: "app" })),
          (client) => Effect.sync(() => client.disconnect())
        )
        const listening = yield* node(redis.url)
        const { broadcast, close } = yield* closable({
          url: redis.url,
          publisher: app,
          closeTimeout: "1 second",
          redis: { connectionName: "shared" }
        })
        // subscribed across nodes once onInit is done (Redis confirmed the channel), which "ready" says
        const client = yield* within("join", listening.join("lobby&ready"))
        yield* readUntil(client, "ready")
        yield* Broadcast.publish("lobby", "from the app's client").pipe(Effect.provide(broadcast))
        yield* readUntil(client, "from the app's client")
        const names = yield* clientNames(look)
        assert.includeMembers(names, ["app", "shared:subscribe"])
        assert.notInclude(names, "shared:publish", "no publish connection of the layer's own")
        yield* close
        assert.strictEqual(app.status, "ready", "the app's client is the app's to close")
        assert.strictEqual(yield* Effect.promise(() => app.set("room:lobby", "still mine")), "OK")
      }),
    30_000
  )

  describe("closing the layer", () => {
    it.scopedLive(
      "returns once Redis has ended both connections, and logs nothing alarming",
      () =>
        Effect.gen(function*() {
          const redis = yield* redisServer
          const look = yield* inspector(redis.url)
          const { broadcast, close, logs } = yield* closable({ url: redis.url })
          // a subscribed connection: the subscribe connection is in subscriber mode
          const client = yield* Testing.connectTo(room, "/?room=lobby").pipe(Effect.provide(broadcast))
          yield* Broadcast.publish("lobby", "last words").pipe(Effect.provide(broadcast))
          assert.deepStrictEqual(yield* client.receive, { _tag: "Text", text: "last words" })
          assert.deepStrictEqual((yield* clientNames(look)).filter((name) => ours.includes(name)).sort(), ours)

          yield* close
          assert.deepStrictEqual((yield* clientNames(look)).filter((name) => ours.includes(name)), [])
          assert.deepStrictEqual(logs.alarming(), [])
        }),
      30_000
    )

    it.scopedLive(
      "finishes at once while Redis is down, and says nothing of it",
      () =>
        Effect.gen(function*() {
          const redis = yield* redisServer
          const { broadcast, close, logs } = yield* closable({ url: redis.url })
          yield* redis.kill
          yield* eventually(
            "the layer sees Redis gone",
            Effect.map(Effect.either(Broadcast.publish("t", "probe").pipe(Effect.provide(broadcast))), Either.isLeft)
          )
          const before = logs.lines.length
          const closed = yield* Effect.either(Effect.timeout(close, "500 millis"))
          assert.isTrue(Either.isRight(closed), "closed within 500 ms")
          assert.deepStrictEqual(logs.alarming(before), [])
        }),
      30_000
    )

    it.scoped(
      "a Redis that does not answer holds it closeTimeout at most, then the connections are dropped",
      () =>
        Effect.gen(function*() {
          const redis = yield* redisServer
          const look = yield* inspector(redis.url)
          const { close, logs } = yield* closable({ url: redis.url, closeTimeout: 1_000 })
          yield* redis.pause
          const closing = yield* Effect.fork(close)
          // each connection waits for Redis to answer its QUIT
          yield* sleepers(2)
          assert.isTrue(Option.isNone(yield* Fiber.poll(closing)), "still waiting for Redis")
          yield* TestClock.adjust("1 second")
          // dropped: each waits as long again for its socket to close, which a stopped Redis does not do
          yield* sleepers(2)
          yield* TestClock.adjust("1 second")
          yield* Fiber.join(closing)
          assert.deepStrictEqual(logs.alarming(), [])
          // once Redis runs again, it lets both go (it reads their QUIT and their end)
          yield* redis.resume
          yield* TestServices.provideLive(eventually(
            "Redis has let both connections go",
            Effect.map(clientNames(look), (names) => !names.some((name) => ours.includes(name)))
          ))
        }),
      30_000
    )
  })
})
