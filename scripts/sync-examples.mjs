// npm run docs:sync: re-copies every marked example block (`<!-- examples/NAME.ts -->` and the ```ts
// block after it) in README.md, docs/*.md and effect4/README.md from the file's current content. test/docs/readme.test.ts
// fails while a copy differs from its file.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const pages = [
  "README.md",
  ...readdirSync(`${root}docs`).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`),
  // the Effect 4 package's README copies the Effect 4 examples (effect4/examples/)
  "effect4/README.md"
]
/** Where a page's `examples/` are: its package's folder. */
const packageOf = (page) => (page.startsWith("effect4/") ? "effect4/" : "")
const marked = /(<!-- (examples\/[\w.-]+\.ts) -->\n```ts\n)([\s\S]*?)(```)/g
for (const page of pages) {
  const text = readFileSync(`${root}${page}`, "utf8")
  const synced = text.replace(
    marked,
    (_, open, path, _code, close) => open + readFileSync(`${root}${packageOf(page)}${path}`, "utf8") + close
  )
  if (synced !== text) {
    writeFileSync(`${root}${page}`, synced)
    console.log(`updated ${page}`)
  }
}
