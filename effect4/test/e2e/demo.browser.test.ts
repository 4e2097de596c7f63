// The demo people run first, in headless Chromium: examples/server.ts started as `npm start` starts it
// (its own process), its chat page opened in real browser pages that join rooms, chat, send too much,
// and live through a restart of the server; two servers sharing rooms through a real redis-server,
// one of them killed. Screenshots of the key moments go to the root's test/artifacts/effect4/ (the
// root's .gitignore ignores test/artifacts there, not under effect4/).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Browser, Page } from "playwright-core"
import { launchBrowser, openPage } from "../support/browser.js"
import { startProgram } from "../support/program.js"
import { redisServer } from "../support/redis.js"
import { rawConnect } from "../support/server.js"

const artifacts = fileURLToPath(new URL("../../../test/artifacts/effect4/", import.meta.url))

/**
 * examples/server.ts on `port` (0 for a free one), ready with the port its startup log names; `env`
 * adds to its environment (REDIS_URL, PRESENCE_TTL_MS).
 */
const startServer = (port: number, env: Record<string, string> = {}) =>
  startProgram("examples/server.ts", {
    env: { PORT: String(port), HOST: "127.0.0.1", ...env },
    ready: (output) => {
      const match = /chat page: open http:\/\/localhost:(\d+)\//.exec(output)
      return match === null ? undefined : Number(match[1])
    },
    readySeconds: 30
  })

/** Reads `read` every 50 ms until `ok` holds; after 15 s the test fails with what was read last. */
const eventually = <A>(what: string, read: () => Promise<A>, ok: (value: A) => boolean) =>
  Effect.suspend(() => {
    let last: A | undefined
    return Effect.promise(read).pipe(
      Effect.tap((value) => Effect.sync(() => (last = value))),
      Effect.repeat({ until: ok, schedule: Schedule.spaced("50 millis") }),
      Effect.timeoutOrElse({
        duration: "15 seconds",
        orElse: () => Effect.fail(new Error(`timed out waiting until ${what}; last seen: ${JSON.stringify(last)}`))
      }),
      Effect.orDie
    )
  })

const texts = (page: Page, selector: string) => () => page.locator(selector).allTextContents()
const textOf = (page: Page, selector: string) => () => page.locator(selector).innerText()

/** The page's log shows `line`, `times` times (once by default). */
const logShows = (page: Page, line: string, times = 1) =>
  eventually(
    `the log shows ${JSON.stringify(line)}${times === 1 ? "" : ` ${times} times`}`,
    texts(page, "#log li"),
    (lines) => lines.filter((shown) => shown === line).length >= times
  )

const membersAre = (page: Page, members: ReadonlyArray<string>) =>
  eventually(
    `the members are ${members.join(", ")}`,
    texts(page, "#members li"),
    (shown) => JSON.stringify(shown) === JSON.stringify(members)
  )

const statusShows = (page: Page, pattern: RegExp) =>
  eventually(`the status matches ${pattern}`, textOf(page, "#status"), (text) => pattern.test(text))

/** The page's uncaught errors, which a test expects to stay empty. */
type Errors = Array<string>

/** Opens the chat page from the server on `port` and joins `room` as `user` with its form. */
const join = (browser: Browser, port: number, user: string, room: string, errors: Errors) =>
  Effect.gen(function*() {
    const page = yield* openPage(browser)
    page.setDefaultTimeout(10_000)
    page.on("pageerror", (error) => errors.push(`${user}: ${error.message}`))
    yield* Effect.promise(() => page.goto(`http://127.0.0.1:${port}/`))
    yield* Effect.promise(() => page.fill("#name", user))
    yield* Effect.promise(() => page.fill("#room", room))
    yield* Effect.promise(() => page.click("#join button"))
    yield* statusShows(page, new RegExp(`^open: ${room} as ${user}$`))
    return page
  })

/** A server on a free port, and a page per user joined to the lobby in that order, each seeing all. */
const lobbyOf = (...users: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* startServer(0)
    const port = yield* server.ready
    const browser = yield* launchBrowser
    const errors: Errors = []
    const pages: Array<Page> = []
    for (const user of users) pages.push(yield* join(browser, port, user, "lobby", errors))
    for (const page of pages) yield* membersAre(page, [...users].sort())
    return { server, port, errors, pages }
  })

const say = (page: Page, text: string) =>
  Effect.promise(async () => {
    await page.fill("#text", text)
    await page.click("#send")
  })

const screenshot = (page: Page, name: string) =>
  Effect.promise(() => {
    mkdirSync(artifacts, { recursive: true })
    return page.screenshot({ path: `${artifacts}${name}.png` })
  })

/** One plain HTTP/1.1 GET on a raw socket (so that `..` reaches the server as written). */
const get = (port: number, path: string) =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* rawConnect(port)
    yield* socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
    const response = (yield* socket.ended).toString("utf8")
    const end = response.indexOf("\r\n\r\n")
    const [head, body] = [response.slice(0, end), response.slice(end + 4)]
    const contentType = /^content-type: (.*)$/im.exec(head)
    return { status: Number(head.split(" ")[1]), contentType: contentType?.[1] ?? null, body }
  }))

describe("the chat page of npm start, in Chromium", () => {
  it.live(
    "two pages in a room see each other's messages, typing, joins, leaves and members (a second tab is the same member); another room sees none",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer(0)
        const port = yield* server.ready
        const browser = yield* launchBrowser
        const errors: Errors = []

        const alice = yield* join(browser, port, "Alice", "lobby", errors)
        yield* membersAre(alice, ["Alice"])
        const carol = yield* join(browser, port, "Carol", "kitchen", errors)
        const bob = yield* join(browser, port, "Bob", "lobby", errors)
        yield* logShows(alice, "Bob joined")
        yield* membersAre(alice, ["Alice", "Bob"])
        // Bob's page learns who was already here from the room's presence_state, with nothing to answer
        yield* membersAre(bob, ["Alice", "Bob"])
        // a second tab of Bob's is the same member: listed once, and no "joined" or "left" for it
        const bobAgain = yield* join(browser, port, "Bob", "lobby", errors)
        yield* membersAre(bobAgain, ["Alice", "Bob"])
        yield* Effect.promise(() => bobAgain.close())
        // its leave went to the room before the server logged it
        yield* eventually("the server logs the second tab's leaving", async () =>
          server.output(), (output) =>
          output.includes("Bob left room lobby"))

        yield* Effect.promise(() =>
          bob.fill("#text", "hello")
        )
        yield* eventually("Alice sees Bob typing", textOf(alice, "#typing"), (text) => text === "Bob is typing…")
        yield* Effect.promise(() => bob.click("#send"))
        yield* logShows(alice, "Bob hello")
        yield* logShows(bob, "Bob hello")
        const aliceLog = yield* Effect.promise(texts(alice, "#log li"))
        assert.deepStrictEqual(aliceLog.filter((line) => /^Bob (joined|left)$/.test(line)), ["Bob joined"])
        yield* membersAre(alice, ["Alice", "Bob"])
        yield* eventually("the typing indicator is gone", textOf(alice, "#typing"), (text) => text === "")

        // rendered as text: no element is made from it and no script runs
        const markup = `<img src=x onerror="document.title='injected'"> <b>bold</b> & "quotes"`
        yield* say(alice, markup)
        yield* logShows(bob, `Alice ${markup}`)
        assert.strictEqual(yield* Effect.promise(() => bob.locator("#log img, #log b").count()), 0)
        assert.notStrictEqual(yield* Effect.promise(() => bob.title()), "injected")
        yield* screenshot(alice, "rooms-alice")
        yield* screenshot(bob, "rooms-bob")

        yield* say(carol, "anyone in the kitchen?")
        yield* logShows(carol, "Carol anyone in the kitchen?")
        // a line of Carol's that reached the lobby would be in Alice's log before Bob's next one
        yield* say(bob, "still just us")
        yield* logShows(alice, "Bob still just us")
        assert.notInclude(yield* Effect.promise(texts(alice, "#log li")), "Carol anyone in the kitchen?")

        yield* Effect.promise(() => bob.click("#leave"))
        yield* logShows(alice, "Bob left")
        // Bob's page is back at the form: its client's close for good (1000 "left") is not shown
        assert.strictEqual(yield* Effect.promise(textOf(bob, "#status")), "not connected")
        assert.isFalse(yield* Effect.promise(() => bob.locator("#reconnect").isVisible()))
        yield* membersAre(alice, ["Alice"])
        yield* say(alice, "bye")
        yield* logShows(alice, "Alice bye")

        // the kitchen heard nothing of the lobby: its own line only, after the welcome
        yield* say(carol, "quiet here")
        yield* logShows(carol, "Carol quiet here")
        const kitchen = yield* Effect.promise(texts(carol, "#log li"))
        assert.match(kitchen[0], /^you joined kitchen as Carol \(server process \d+\)$/)
        assert.deepStrictEqual(kitchen.slice(1), ["Carol anyone in the kitchen?", "Carol quiet here"])
        yield* membersAre(carol, ["Carol"])
        // the phone layout: the member list above the conversation
        yield* Effect.promise(() => carol.setViewportSize({ width: 390, height: 760 }))
        yield* screenshot(carol, "rooms-carol-phone")

        // one log line per connection event, not per message
        yield* eventually("the server logs Bob's leaving", async () =>
          server.output(), (output) =>
          output.includes("Bob left room lobby: 1000 left"))
        const output = server.output()
        assert.include(output, "Alice joined room lobby")
        assert.include(output, "Carol joined room kitchen")
        assert.notInclude(output, "still just us")
        // each on one line, naming the connection: Bob's join and leave name the same one
        const connectionOf = (event: string) => {
          const line = output.split("\n").find((line) =>
            line.includes(event)
          )
          const id = /websocket\.connection=([0-9a-f-]{36})/.exec(line ?? "")?.[1]
          assert.isDefined(id, `${event}: ${line}`)
          assert.include(line, "websocket.route=/rooms/:room")
          return id
        }
        // (Bob's first tab: the first to join, the one that left with the Leave button)
        assert.strictEqual(connectionOf("Bob joined room lobby"), connectionOf("Bob left room lobby: 1000 left"))
        assert.notStrictEqual(connectionOf("Alice joined room lobby"), connectionOf("Bob joined room lobby"))
        assert.deepStrictEqual(errors, [])
      }),
    60_000
  )

  it.live(
    "a message the protocol refuses (over 2,000 characters) is not sent: the page says so and stays in the room",
    () =>
      Effect.gen(function*() {
        const { errors, pages: [bob, alice] } = yield* lobbyOf("Bob", "Alice")

        // the page's Client encodes with the room's own schema (examples/chat-protocol.ts): nothing goes out
        yield* say(alice, "x".repeat(20_000))
        yield* logShows(alice, "not sent: a message is 1 to 2,000 characters")
        yield* screenshot(alice, "too-long-refused")
        yield* statusShows(alice, /^open: lobby as Alice$/)
        yield* say(alice, "shorter this time")
        yield* logShows(bob, "Alice shorter this time")
        yield* membersAre(bob, ["Alice", "Bob"])
        assert.notInclude((yield* Effect.promise(texts(bob, "#log li"))).join("\n"), "Alice left")
        assert.deepStrictEqual(errors, [])
      }),
    60_000
  )

  it.live(
    "a restarted server: the pages show 1001, reconnect by themselves, rebuild the member list and chat again",
    () =>
      Effect.gen(function*() {
        const { errors, pages: [alice, bob], port, server: first } = yield* lobbyOf("Alice", "Bob")
        yield* say(alice, "before the restart")
        yield* logShows(bob, "Alice before the restart")

        // as a process manager restarts it (Ctrl-C's SIGINT: test/e2e/example.test.ts)
        first.child.kill("SIGTERM")
        // 130: Effect 4's NodeRuntime.runMain exit code for a program interrupted by a signal (Effect 3's was 0)
        assert.strictEqual(yield* first.exited, 130, first.output())
        for (const page of [alice, bob]) {
          yield* logShows(page, `disconnected: 1001 going away: "server shutting down"`)
          // nothing listens now: the page keeps trying, and says so
          yield* statusShows(page, /^closed 100[16] .*: reconnecting in \d+\.\d s$/)
        }
        yield* screenshot(alice, "restart-closed")

        const second = yield* startServer(port)
        assert.strictEqual(yield* second.ready, port)
        yield* statusShows(alice, /^open: lobby as Alice$/)
        yield* statusShows(bob, /^open: lobby as Bob$/)
        yield* membersAre(alice, ["Alice", "Bob"])
        yield* membersAre(bob, ["Alice", "Bob"])
        yield* say(bob, "after the restart")
        yield* logShows(alice, "Bob after the restart")
        yield* logShows(bob, "Bob after the restart")
        yield* screenshot(alice, "restart-reconnected")
        assert.deepStrictEqual(errors, [])
      }),
    60_000
  )

  it.live(
    "two servers on one Redis: a page lists the other server's members, and drops them within 1.5 * PRESENCE_TTL_MS of its SIGKILL",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const ttl = 1_500
        const env = { REDIS_URL: redis.url, PRESENCE_TTL_MS: String(ttl) }
        const [a, b] = [yield* startServer(0, env), yield* startServer(0, env)]
        const [portA, portB] = [yield* a.ready, yield* b.ready]
        const browser = yield* launchBrowser
        const errors: Errors = []

        const alice = yield* join(browser, portA, "Alice", "lobby", errors)
        const bob = yield* join(browser, portB, "Bob", "lobby", errors)
        yield* membersAre(alice, ["Alice", "Bob"])
        yield* membersAre(bob, ["Alice", "Bob"])
        yield* logShows(alice, "Bob joined")
        yield* say(bob, "hello from server B")
        yield* logShows(alice, "Bob hello from server B")
        yield* screenshot(alice, "presence-two-servers")

        // B dies without a word (no close frame, no leave in Redis): A drops Bob once B's liveness expires
        const killed = Date.now()
        b.child.kill("SIGKILL")
        yield* Effect.promise(() =>
          alice.locator(`#members li[data-user="Bob"]`).waitFor({ state: "detached", timeout: 1.5 * ttl + 10_000 })
        )
        const took = Date.now() - killed
        console.log(`Bob left the page on server A ${took} ms after server B's SIGKILL (bound ${1.5 * ttl} ms)`)
        // the bound, and a margin for Redis round trips and the page on a busy machine
        assert.isAtMost(took, 1.5 * ttl + 1_000, `Bob left ${took} ms after the kill`)
        yield* membersAre(alice, ["Alice"])
        yield* logShows(alice, "Bob left")
        // Bob's page lost its server, and keeps trying
        yield* statusShows(bob, /^closed 1006 .*: reconnecting in \d+\.\d s$/)
        yield* say(alice, "still on A")
        yield* logShows(alice, "Alice still on A")
        yield* screenshot(alice, "presence-server-killed")
        assert.deepStrictEqual(errors, [])
      }),
    60_000
  )

  it.live(
    "serves the page's three files with their content types, and no other path",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer(0)
        const port = yield* server.ready
        const page = yield* get(port, "/")
        assert.deepStrictEqual([page.status, page.contentType], [200, "text/html; charset=utf-8"])
        assert.include(page.body, `<script src="/chat.js" defer></script>`)
        const css = yield* get(port, "/chat.css")
        assert.deepStrictEqual([css.status, css.contentType], [200, "text/css; charset=utf-8"])
        const js = yield* get(port, "/chat.js")
        assert.deepStrictEqual([js.status, js.contentType], [200, "text/javascript; charset=utf-8"])
        assert.notInclude(js.body, "innerHTML")
        for (
          const path of [
            "/index.html",
            "/public/chat.js",
            "/../package.json",
            "/..%2fpackage.json",
            "/%2e%2e/%2e%2e/package.json",
            "/chat.js/../../server.ts",
            "/server.ts"
          ]
        ) {
          assert.strictEqual((yield* get(port, path)).status, 404, path)
        }
      }),
    60_000
  )
})
