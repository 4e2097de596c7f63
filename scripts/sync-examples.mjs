// npm run docs:sync: re-copies every marked example block (`<!-- examples/NAME.ts -->` and the ```ts
// block after it) in README.md and docs/*.md from the file's current content. test/docs/readme.test.ts
// fails while a copy differs from its file.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const pages = [
  "README.md",
  ...readdirSync(`${root}docs`).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)
]
const marked = /(<!-- (examples\/[\w.-]+\.ts) -->\n```ts\n)([\s\S]*?)(```)/g
for (const page of pages) {
  const text = readFileSync(`${root}${page}`, "utf8")
  const synced = text.replace(
    marked,
    (_, open, path, _code, close) => open + readFileSync(`${root}${path}`, "utf8") + close
  )
  if (synced !== text) {
    writeFileSync(`${root}${page}`, synced)
    console.log(`updated ${page}`)
  }
}
