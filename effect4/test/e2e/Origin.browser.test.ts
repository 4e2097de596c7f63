// The same-origin default in a real browser: headless Chromium opens a WebSocket from a page served
// by the server itself, and from a page of another origin (another port), as a cross-site attacker's
// page would.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Upgrade } from "effect-websocket"
import { HttpServerResponse } from "effect/http"
import type { Page } from "playwright-core"
import { launchBrowser, openPage } from "../support/browser.js"
import { echo } from "../support/echo.js"
import { route, serve } from "../support/server.js"

/** A page that opens a WebSocket to `target` (or to its own server) and says how it went. */
const page = (target: string) =>
  Effect.succeed(HttpServerResponse.html(`<!doctype html>
<title>origin check</title>
<script>
  window.outcome = new Promise((resolve) => {
    const ws = new WebSocket(${JSON.stringify(target)} || "ws://" + location.host + "/ws")
    ws.onopen = () => ws.send("hello from " + location.origin)
    ws.onmessage = (event) => {
      resolve("echo: " + event.data)
      ws.close(1000)
    }
    ws.onclose = (event) => resolve("closed " + event.code)
  })
</script>`))

const outcomeOf = (page: Page) =>
  Effect.promise(() => page.evaluate(() => (globalThis as unknown as { outcome: Promise<string> }).outcome))

describe("allowedOrigins in Chromium", () => {
  it.live(
    "a page of the same origin connects; a page of another origin is refused with 403",
    () =>
      Effect.gen(function*() {
        const app = yield* serve(Layer.mergeAll(
          route("/", page("")),
          route("/ws", Upgrade.upgradeWebSocket(echo()))
        ))
        const target = `ws://127.0.0.1:${app.port}/ws`
        // another origin: the same host on another port, as a front end's dev server would be
        const other = yield* serve(route("/", page(target)))
        const browser = yield* launchBrowser

        const own = yield* openPage(browser)
        yield* Effect.promise(() => own.goto(`http://127.0.0.1:${app.port}/`))
        assert.strictEqual(yield* outcomeOf(own), `echo: hello from http://127.0.0.1:${app.port}`)

        const foreign = yield* openPage(browser)
        yield* Effect.promise(() => foreign.goto(`http://127.0.0.1:${other.port}/`))
        // a browser reports a refused handshake as 1006, whatever the status
        assert.strictEqual(yield* outcomeOf(foreign), "closed 1006")
        const warning = app.logs.find((line) => line.includes("refused a WebSocket handshake"))
        assert.isDefined(warning, app.logs.join("\n"))
        assert.include(warning, `allowedOrigins: ["http://127.0.0.1:${other.port}"]`)
      }),
    60_000
  )
})
