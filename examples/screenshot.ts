// Makes docs/demo.png: with `npm start` running, two Chromium pages join the lobby and chat, and the
// picture shows them side by side. `npx tsx examples/screenshot.ts [http://localhost:8080/]`; it uses
// playwright-core (a devDependency) and Chromium at $CHROMIUM (default /usr/bin/chromium).
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"

const url = process.argv[2] ?? "http://localhost:8080/"
const output = fileURLToPath(new URL("../docs/demo.png", import.meta.url))

const join = async (browser: Browser, user: string) => {
  const page = await browser.newPage({ viewport: { width: 660, height: 600 } })
  page.setDefaultTimeout(10_000)
  await page.goto(url)
  await page.fill("#name", user)
  await page.fill("#room", "lobby")
  await page.click("#join button")
  await page.getByText(`open: lobby as ${user}`, { exact: true }).waitFor()
  return page
}

const say = async (page: Page, text: string, seenBy: Page) => {
  await page.fill("#text", text)
  await page.click("#send")
  await seenBy.locator("#log .text").getByText(text, { exact: true }).waitFor()
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"]
})
try {
  const alice = await join(browser, "Alice")
  const bob = await join(browser, "Bob")
  await bob.locator("#members li").getByText("Alice", { exact: true }).waitFor()
  await say(alice, "Hi Bob! This page is three static files and one WebSocket route.", bob)
  await say(bob, "And it came back by itself when I restarted the server.", alice)
  await say(alice, "Members, typing, joins and leaves: all from the room's typed JSON protocol.", bob)
  await bob.fill("#text", "On my way")
  await alice.getByText("Bob is typing…", { exact: true }).waitFor()

  const shots = await Promise.all([alice, bob].map((page) => page.screenshot()))
  const sheet = await browser.newPage({ viewport: { width: 1344, height: 616 } })
  await sheet.setContent(
    `<body style="margin:0;padding:8px;display:flex;gap:8px;background:#cfd4dc">${
      shots.map((shot) => `<img style="border-radius:6px" src="data:image/png;base64,${shot.toString("base64")}">`)
        .join("")
    }</body>`
  )
  writeFileSync(output, await sheet.screenshot())
  console.log(`wrote ${output}`)
} finally {
  await browser.close()
}
