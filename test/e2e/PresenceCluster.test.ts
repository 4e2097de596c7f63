// Presence across real processes: test/fixtures/presence-server.ts run two (or three) times on one real
// redis-server, with `ws` clients. Members of one server reach the other as presence_diff frames and in
// a fresh client's presence_state; a SIGKILLed server's members leave the other within 1.5 * ttl; a
// Redis killed and restarted empty is filled again by the live servers, with nothing for the app to do.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import WebSocket from "ws"
import { startProgram } from "../support/program.js"
import { redisServer } from "../support/redis.js"
import { eventually, within } from "../support/server.js"

/** The fixture's presence ttl, short so that a killed server's members leave within seconds. */
const ttl = 1_500
/** What a loaded machine (two cores, other tests) may add to the bound: Redis round trips, a late timer. */
const margin = 1_000

const startServer = (redisUrl: string, name: string) =>
  Effect.flatMap(
    startProgram("test/fixtures/presence-server.ts", {
      env: { REDIS_URL: redisUrl, PRESENCE_TTL_MS: String(ttl), SERVER_NAME: name, PORT: "0" },
      ready: (output) => {
        const match = /listening (\d+)/.exec(output)
        return match === null ? undefined : Number(match[1])
      },
      readySeconds: 40
    }),
    (program) => Effect.map(program.ready, (port) => ({ ...program, name, port }))
  )

type Server = Effect.Effect.Success<ReturnType<typeof startServer>>

interface Meta {
  readonly user: string
  readonly server: string
  readonly since: string
}
type Presences = Record<string, ReadonlyArray<{ readonly ref: string; readonly meta: Meta }>>
interface Frame {
  readonly type: "presence_state" | "presence_diff"
  readonly topic: string
  readonly stream: string
  readonly seq: number
  readonly presences?: Presences
  readonly joins?: Presences
  readonly leaves?: Presences
}

/**
 * A client's view of a room, kept as a page keeps it (examples/public/chat.ts): the presence_state,
 * then each presence_diff applied in order (leaves, then joins). Diffs are recorded with the time they
 * arrived; a diff after the state that is not the next of its stream is recorded as an error. A diff
 * may come before the state (the fixture subscribes, then sends the state: a change in between reaches
 * the connection first, and the state covers it): it is set aside, and an error if the state does not
 * cover it.
 */
interface View {
  readonly ws: WebSocket
  state: Frame | undefined
  readonly members: Map<string, Map<string, Meta>>
  readonly diffs: Array<{ readonly at: number; readonly frame: Frame }>
  readonly errors: Array<string>
  /** Diffs that came before the state. */
  readonly early: Array<Frame>
  seq: number
}

const keysOf = (view: View) => Array.from(view.members.keys()).sort()

const apply = (view: View, frame: Frame) => {
  if (frame.type === "presence_state") {
    if (view.state !== undefined) view.errors.push("a second presence_state")
    view.state = frame
    view.seq = frame.seq
    for (const diff of view.early) {
      if (diff.stream !== frame.stream || diff.seq > frame.seq) {
        view.errors.push(`a diff before the state that the state does not cover: ${JSON.stringify(diff)}`)
      }
    }
    for (const [key, entries] of Object.entries(frame.presences!)) {
      view.members.set(key, new Map(entries.map((entry) => [entry.ref, entry.meta])))
    }
    return
  }
  if (view.state === undefined) {
    view.early.push(frame)
    return
  }
  view.diffs.push({ at: Date.now(), frame })
  if (frame.stream !== view.state.stream) view.errors.push(`a diff of another stream: ${JSON.stringify(frame)}`)
  else if (frame.seq !== view.seq + 1) view.errors.push(`seq ${frame.seq} after ${view.seq}`)
  view.seq = frame.seq
  for (const [key, entries] of Object.entries(frame.leaves!)) {
    const refs = view.members.get(key)
    for (const entry of entries) refs?.delete(entry.ref)
    if (refs !== undefined && refs.size === 0) view.members.delete(key)
  }
  for (const [key, entries] of Object.entries(frame.joins!)) {
    let refs = view.members.get(key)
    if (refs === undefined) {
      refs = new Map()
      view.members.set(key, refs)
    }
    for (const entry of entries) refs.set(entry.ref, entry.meta)
  }
}

/**
 * Opens `/rooms/<room>` on `server`, tracked as `user` (or only watching without one); every frame is
 * applied from the first on. Terminated when the scope closes.
 */
const join = (server: Server, room: string, user?: string) =>
  Effect.acquireRelease(
    within(
      `${user ?? "a watcher"} joins ${room} on ${server.name}`,
      Effect.async<View>((resume) => {
        const url = `ws://127.0.0.1:${server.port}/rooms/${room}${user === undefined ? "" : `?user=${user}`}`
        const ws = new WebSocket(url)
        const view: View = { ws, state: undefined, members: new Map(), diffs: [], errors: [], early: [], seq: 0 }
        ws.on("error", () => {})
        ws.on("message", (data: Buffer) => apply(view, JSON.parse(data.toString("utf8"))))
        ws.once("open", () => resume(Effect.succeed(view)))
        ws.once("close", (code) => resume(Effect.dieMessage(`${url} closed with ${code} before it opened`)))
      })
    ),
    (view) => Effect.sync(() => view.ws.terminate())
  )

/** Waits until `view` lists exactly `keys`. */
const lists = (view: View, keys: ReadonlyArray<string>, seconds = 10) =>
  eventually(
    `the view lists ${keys.join(", ")}`,
    Effect.sync(() => JSON.stringify(keysOf(view)) === JSON.stringify([...keys].sort())),
    seconds,
    "5 millis"
  ).pipe(Effect.tapDefect(() => Effect.sync(() => console.log(`the view listed ${keysOf(view).join(", ")}`))))

/** Waits for a fresh client's presence_state. */
const stateOf = (view: View) =>
  Effect.zipRight(
    eventually("the presence_state arrives", Effect.sync(() => view.state !== undefined), 10, "5 millis"),
    Effect.sync(() => view.state!)
  )

/** `GET /presence/:room` of a server: its Presence.list now. */
const listOf = (server: Server, room: string) =>
  within(
    `GET /presence/${room} on ${server.name}`,
    Effect.promise(() =>
      fetch(`http://127.0.0.1:${server.port}/presence/${room}`).then((response) =>
        response.json() as Promise<Presences>
      )
    )
  )

/** A list with its keys sorted and each key's entries sorted by ref: two servers' lists compare equal. */
const normalized = (presences: Presences) =>
  JSON.stringify(
    Object.keys(presences).sort().map((key) => [
      key,
      [...presences[key]].sort((a, b) => a.ref.localeCompare(b.ref))
    ])
  )

const inspector = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const redis = new Redis(url, { maxRetriesPerRequest: 1 })
      redis.on("error", () => {}) // refused while Redis is away; it reconnects
      return redis
    }),
    (redis) => Effect.sync(() => redis.disconnect())
  )

const noErrors = (...views: ReadonlyArray<View>) => {
  for (const view of views) assert.deepStrictEqual(view.errors, [], "every diff follows the one before")
}

describe("Presence across processes on one Redis (test/fixtures/presence-server.ts)", () => {
  it.scopedLive(
    "two servers: clients on each see the other's joins, a fresh client's state lists both, a close is a leave on the other",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const [a, b] = yield* Effect.all([startServer(redis.url, "A"), startServer(redis.url, "B")], {
          concurrency: "unbounded"
        })
        const ann = yield* join(a, "lobby", "ann")
        yield* lists(ann, ["ann"])
        const bob = yield* join(b, "lobby", "bob")
        yield* lists(bob, ["ann", "bob"])
        yield* lists(ann, ["ann", "bob"])
        // bob reached ann as a diff from server B, with his typed meta encoded (the Date as a string)
        const bobJoined = ann.diffs.find(({ frame }) => frame.joins!.bob !== undefined)!.frame
        assert.deepStrictEqual(Object.keys(bobJoined.joins!), ["bob"])
        assert.deepStrictEqual(Object.keys(bobJoined.leaves!), [])
        const bobMeta = bobJoined.joins!.bob[0].meta
        assert.deepStrictEqual([bobMeta.user, bobMeta.server], ["bob", "B"])
        assert.isFalse(Number.isNaN(Date.parse(bobMeta.since)), "since is a date")
        assert.strictEqual(ann.members.get("ann")!.values().next().value!.server, "A")

        // ann opens a second tab, on the other server: one key, two entries, seen from both servers
        const annOnB = yield* join(b, "lobby", "ann")
        yield* eventually(
          "ann has two entries everywhere",
          Effect.sync(() => [ann, bob].every((view) => view.members.get("ann")?.size === 2)),
          10,
          "5 millis"
        )

        // fresh clients on either server start from a state that lists both users
        for (const server of [a, b]) {
          const fresh = yield* join(server, "lobby")
          const state = yield* stateOf(fresh)
          assert.deepStrictEqual(Object.keys(state.presences!).sort(), ["ann", "bob"])
          assert.deepStrictEqual(state.presences!.ann.map((entry) => entry.meta.server).sort(), ["A", "B"])
          assert.deepStrictEqual(state.presences!.bob.map((entry) => entry.meta.server), ["B"])
        }
        const [listA, listB] = [yield* listOf(a, "lobby"), yield* listOf(b, "lobby")]
        assert.strictEqual(normalized(listA), normalized(listB), "both servers list the same entries")

        // bob closes on B: ann, on A, gets his leave; ann's second tab closes: one entry of ann left
        const before = ann.diffs.length
        bob.ws.close(1000)
        yield* lists(ann, ["ann"])
        const bobLeft = ann.diffs.slice(before).map(({ frame }) => frame)
        assert.deepStrictEqual(bobLeft.map((frame) => [Object.keys(frame.joins!), Object.keys(frame.leaves!)]), [[
          [],
          ["bob"]
        ]])
        assert.strictEqual(bobLeft[0].leaves!.bob[0].meta.server, "B")
        annOnB.ws.close(1000)
        yield* eventually(
          "ann's tab on B leaves A's view",
          Effect.sync(() => ann.members.get("ann")?.size === 1),
          10,
          "5 millis"
        )
        assert.deepStrictEqual(Object.keys(yield* listOf(b, "lobby")), ["ann"])
        noErrors(ann, bob, annOnB)
      }),
    90_000
  )

  it.scopedLive(
    `a SIGKILLed server's members leave the other server's clients within 1.5 * ttl (${ttl} ms)`,
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* inspector(redis.url)
        const [a, b] = yield* Effect.all([startServer(redis.url, "A"), startServer(redis.url, "B")], {
          concurrency: "unbounded"
        })
        const ann = yield* join(a, "lobby", "ann")
        yield* join(b, "lobby", "bob")
        yield* join(b, "lobby", "bea")
        yield* join(b, "lobby", "bea") // bea's second tab
        yield* join(b, "attic", "bob") // and bob in another room
        const watcher = yield* join(a, "attic")
        yield* lists(ann, ["ann", "bea", "bob"])
        yield* lists(watcher, ["bob"])
        assert.deepStrictEqual(yield* Effect.promise(() => look.scard("effect-websocket:@presence:servers")), 2)

        const before = ann.diffs.length
        const killed = Date.now()
        b.child.kill("SIGKILL")
        yield* lists(ann, ["ann"], 1.5 * ttl / 1000 + 10)
        yield* lists(watcher, [], 10)
        const leaves = ann.diffs.slice(before)
        const took = leaves.at(-1)!.at - killed
        console.log(`B's members left A's client ${took} ms after B's SIGKILL (bound ${1.5 * ttl} + ${margin} ms)`)
        assert.isAtMost(took, 1.5 * ttl + margin, `B's members left ${took} ms after the kill`)
        // only leaves, of B's members only, and all of bea's entries
        for (const { frame } of leaves) {
          assert.deepStrictEqual(Object.keys(frame.joins!), [])
          for (const entries of Object.values(frame.leaves!)) {
            for (const entry of entries) assert.strictEqual(entry.meta.server, "B")
          }
        }
        assert.strictEqual(leaves.reduce((n, { frame }) => n + (frame.leaves!.bea?.length ?? 0), 0), 2)
        assert.strictEqual(watcher.diffs.at(-1)!.at - killed <= 1.5 * ttl + margin, true)

        // a fresh client on A starts from ann alone; Redis forgot B
        const fresh = yield* join(a, "lobby")
        assert.deepStrictEqual(Object.keys((yield* stateOf(fresh)).presences!), ["ann"])
        yield* eventually(
          "B is forgotten in Redis",
          Effect.map(Effect.promise(() => look.scard("effect-websocket:@presence:servers")), (n) => n === 1)
        )
        noErrors(ann, watcher, fresh)
      }),
    90_000
  )

  it.scopedLive(
    "Redis killed and restarted empty: the live servers fill it again, a third server and fresh clients list every member",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const look = yield* inspector(redis.url)
        const [a, b] = yield* Effect.all([startServer(redis.url, "A"), startServer(redis.url, "B")], {
          concurrency: "unbounded"
        })
        const ann = yield* join(a, "lobby", "ann")
        const amy = yield* join(a, "lobby", "amy")
        const bob = yield* join(b, "lobby", "bob")
        yield* join(b, "attic", "bea")
        yield* lists(ann, ["amy", "ann", "bob"])
        yield* lists(bob, ["amy", "ann", "bob"])
        const [beforeA, beforeB] = [ann.diffs.length, bob.diffs.length]

        yield* redis.kill
        // changes while Redis is away: amy leaves A, cat joins B; neither can reach Redis
        amy.ws.close(1000)
        const cat = yield* join(b, "lobby", "cat")
        // B has not heard of amy's leave: cat's state lists her
        yield* lists(cat, ["amy", "ann", "bob", "cat"])
        yield* Effect.sleep("300 millis") // Redis stays away a little (the servers' connections notice)
        const restarted = Date.now()
        yield* redis.restart // empty: no persistence

        // both servers converge on the live members, each having rewritten its own in Redis
        const expected = ["ann", "bob", "cat"]
        yield* eventually(
          "A and B list ann, bob and cat alike",
          Effect.map(Effect.all([listOf(a, "lobby"), listOf(b, "lobby")]), ([listA, listB]) =>
            JSON.stringify(Object.keys(listA).sort()) === JSON.stringify(expected) &&
            normalized(listA) === normalized(listB)),
          20,
          "50 millis"
        )
        console.log(`A and B converged ${Date.now() - restarted} ms after Redis restarted empty`)
        yield* lists(ann, expected)
        yield* lists(bob, expected)
        yield* lists(cat, expected)
        yield* eventually(
          "both live servers are back in Redis",
          Effect.map(
            Effect.promise(() =>
              look.scard("effect-websocket:@presence:servers")
            ),
            (n) => n === 2
          )
        )

        // a server started now knows only what Redis has: every member of A and B, in both rooms
        const c = yield* startServer(redis.url, "C")
        const fresh = yield* join(c, "lobby")
        const state = (yield* stateOf(fresh)).presences!
        assert.deepStrictEqual(Object.keys(state).sort(), expected)
        assert.deepStrictEqual(
          Object.values(state).map((entries) => entries.map((entry) => `${entry.meta.user}@${entry.meta.server}`))
            .flat()
            .sort(),
          ["ann@A", "bob@B", "cat@B"]
        )
        assert.strictEqual(normalized(state), normalized(yield* listOf(a, "lobby")))
        const attic = yield* join(c, "attic")
        assert.deepStrictEqual(Object.keys((yield* stateOf(attic)).presences!), ["bea"])
        const freshOnA = yield* join(a, "lobby")
        assert.deepStrictEqual(Object.keys((yield* stateOf(freshOnA)).presences!).sort(), expected)

        // what the clients saw from the kill on: amy's leave and cat's join, and (reported, not a rule
        // here) any member of the other, live, server dropped and joined again while Redis came back
        const flaps = [
          ...ann.diffs.slice(beforeA).filter(({ frame }) => frame.leaves!.bob !== undefined).map(() => "bob on A"),
          ...bob.diffs.slice(beforeB).filter(({ frame }) => frame.leaves!.ann !== undefined).map(() => "ann on B")
        ]
        if (flaps.length > 0) {
          console.log(`live members left and joined again while Redis came back: ${flaps.join(", ")}`)
        }
        noErrors(ann, bob, cat, fresh, attic, freshOnA)
      }),
    90_000
  )
})
