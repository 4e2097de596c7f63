// The chat rooms of `npm start` scaled out through a real redis-server: two separately started
// servers, and `npm run start:cluster`'s workers, share rooms and their members when REDIS_URL is set.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { openWs, type WsClient } from "../support/client.js"
import { startProgram } from "../support/program.js"
import { redisServer } from "../support/redis.js"

const roomsUrl = /chat rooms: ws:\/\/localhost:(\d+)\/rooms\//g

const startServer = (redisUrl: string, env: Record<string, string> = {}) =>
  startProgram("examples/server.ts", {
    env: { PORT: "0", HOST: "127.0.0.1", REDIS_URL: redisUrl, ...env },
    ready: (output) => {
      const match = [...output.matchAll(roomsUrl)][0]
      return match === undefined ? undefined : `ws://127.0.0.1:${match[1]}/rooms`
    },
    readySeconds: 30
  })

/** Joins `room` as `user`; succeeds with the client and the server process id from the welcome. */
const join = (base: string, room: string, user: string) =>
  Effect.gen(function*() {
    const client = yield* openWs(`${base}/${room}?user=${user}`)
    const welcome = JSON.parse(yield* client.next)
    assert.deepInclude(welcome, { type: "welcome", room, user })
    return { client, pid: welcome.server as number }
  })

const say = (client: WsClient, text: string) => client.ws.send(JSON.stringify({ type: "say", text }))

/** Reads until a message `match` holds for (presence frames may come first: members joining, leaving). */
const until = (client: WsClient, what: string, match: (message: any) => boolean) =>
  Effect.gen(function*() {
    for (;;) {
      const received = JSON.parse(yield* client.next)
      if (match(received)) return received
      assert.include(["presence_state", "presence_diff"], received.type, `while waiting for ${what}`)
    }
  })

/** Reads until `expected`. */
const hear = (client: WsClient, expected: object) =>
  until(client, JSON.stringify(expected), (received) => JSON.stringify(received) === JSON.stringify(expected))

/**
 * Reads until the client learns that `user` is in the room: in the state it got on joining, or in a
 * later diff (a member who joined another server a moment ago may not have reached this one yet).
 */
const seesJoin = (client: WsClient, user: string) =>
  until(client, `${user} joins`, (received) =>
    (received.type === "presence_state" && user in received.presences) ||
    (received.type === "presence_diff" && user in received.joins))

const seesLeave = (client: WsClient, user: string) =>
  until(client, `${user} leaves`, (received) => received.type === "presence_diff" && user in received.leaves)

describe("chat rooms across processes (REDIS_URL)", () => {
  it.scopedLive(
    "two separately started servers share a room: messages and members cross",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const first = yield* startServer(redis.url)
        const second = yield* startServer(redis.url)
        const [one, two] = [yield* first.ready, yield* second.ready]
        assert.notStrictEqual(one, two)
        const alice = yield* join(one, "lobby", "Alice")
        yield* seesJoin(alice.client, "Alice")
        const bob = yield* join(two, "lobby", "Bob")
        assert.notStrictEqual(alice.pid, bob.pid)
        yield* seesJoin(alice.client, "Bob")
        yield* seesJoin(bob.client, "Alice")
        const carol = yield* join(two, "kitchen", "Carol")

        say(alice.client, "hello from one")
        yield* hear(bob.client, { type: "said", user: "Alice", text: "hello from one" })
        yield* hear(alice.client, { type: "said", user: "Alice", text: "hello from one" })
        say(bob.client, "hello from two")
        yield* hear(alice.client, { type: "said", user: "Bob", text: "hello from two" })

        bob.client.ws.close()
        yield* seesLeave(alice.client, "Bob")
        say(carol.client, "only the kitchen")
        yield* hear(carol.client, { type: "said", user: "Carol", text: "only the kitchen" })
        say(alice.client, "still here")
        yield* hear(alice.client, { type: "said", user: "Alice", text: "still here" })
      }),
    90_000
  )

  it.scopedLive(
    "a SIGKILLed server's members leave the other server's rooms within 1.5 * PRESENCE_TTL_MS",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const ttl = 1_500
        const env = { PRESENCE_TTL_MS: String(ttl) }
        const first = yield* startServer(redis.url, env)
        const second = yield* startServer(redis.url, env)
        const [one, two] = [yield* first.ready, yield* second.ready]
        const alice = yield* join(one, "lobby", "Alice")
        yield* seesJoin(alice.client, "Alice")
        const bob = yield* join(two, "lobby", "Bob")
        yield* seesJoin(alice.client, "Bob")
        yield* seesJoin(bob.client, "Alice")

        const killed = Date.now()
        second.child.kill("SIGKILL")
        yield* seesLeave(alice.client, "Bob")
        const took = Date.now() - killed
        // the bound, and a margin for the sweep's Redis round trips on a busy machine
        assert.isAtMost(took, 1.5 * ttl + 1_000, `Bob left ${took} ms after the kill`)
        say(alice.client, "alone now")
        yield* hear(alice.client, { type: "said", user: "Alice", text: "alone now" })
        // the bound, as the servers print it at startup
        assert.include(first.output(), "rooms within 2.25 s (1.5 * PRESENCE_TTL_MS=1500)")
      }),
    60_000
  )

  it.scopedLive(
    "the cluster's workers share rooms: every member hears every other, whatever its worker",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const workers = 2
        const cluster = yield* startProgram("examples/cluster.ts", {
          env: { PORT: "0", WORKERS: String(workers), REDIS_URL: redis.url },
          group: true,
          ready: (output) => {
            const ports = [...output.matchAll(roomsUrl)].map((match) => match[1])
            return ports.length === workers ? `ws://127.0.0.1:${ports[0]}/rooms` : undefined
          },
          readySeconds: 40
        })
        const base = yield* cluster.ready
        const members = yield* Effect.forEach(["Ann", "Ben", "Cid", "Dan"], (user) => join(base, "lobby", user))
        assert.strictEqual(new Set(members.map((member) => member.pid)).size, workers, "both workers serve members")
        for (const [i, member] of members.entries()) {
          say(member.client, `hi ${i}`)
          const line = { type: "said", user: ["Ann", "Ben", "Cid", "Dan"][i], text: `hi ${i}` }
          for (const other of members) yield* hear(other.client, line)
        }
      }),
    90_000
  )
})
