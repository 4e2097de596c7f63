/** Headless Chromium from Debian (`/usr/bin/chromium`, installed by .ci/run), for as long as the scope. */
import { Effect, type Scope } from "effect"
import { type Browser, chromium, type Page } from "playwright-core"

export const executablePath = "/usr/bin/chromium"

export const launchBrowser: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() =>
    chromium.launch({
      executablePath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    })
  ),
  (browser) => Effect.promise(() => browser.close())
)

/** A new page in its own context (no shared cookies), closed with the scope. */
export const openPage = (browser: Browser): Effect.Effect<Page, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => browser.newContext().then((context) => context.newPage())),
    (page) => Effect.promise(() => page.context().close())
  )
