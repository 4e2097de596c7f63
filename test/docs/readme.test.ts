// The README and the pages of docs/: their code blocks marked `<!-- examples/NAME.ts -->` are copies of
// files that tsc checks, and their links lead somewhere.
import { assert, describe, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
const read = (path: string) => readFileSync(`${root}${path}`, "utf8")

const pages = readdirSync(`${root}docs`).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)
const documents = ["README.md", ...pages]
/** The Effect 4 package's README: its copies are of effect4/examples/. */
const effect4Readme = "effect4/README.md"
/** Where a document's `examples/` are: its package's folder. */
const packageOf = (document: string) => (document.startsWith("effect4/") ? "effect4/" : "")

/** Every marked copy of a document: the example's path and the block's text. */
const copiesIn = (text: string) =>
  [...text.matchAll(/^<!-- (examples\/[\w.-]+\.ts) -->\n```ts\n([\s\S]*?)^```$/gm)].map(([, path, code]) => ({
    path,
    code
  }))

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
const anchorsOf = (text: string): Set<string> => {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  const prose = text.replace(/^```[\s\S]*?^```$/gm, "")
  for (const [, heading] of prose.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

/** The relative links of a document (no scheme), outside code blocks and code spans. */
const linksIn = (text: string) =>
  [...text.replace(/^```[\s\S]*?^```$/gm, "").replace(/`[^`\n]*`/g, "").matchAll(/\]\(([^)\s]+)\)/g)]
    .map(([, target]) => target)
    .filter((target) => !/^[a-z]+:/.test(target))

/** `from`'s link `target` as a path from the root and an anchor. */
const resolve = (from: string, target: string) => {
  const [path, anchor] = target.split("#")
  if (path === "") return { path: from, anchor }
  const base = from.includes("/") ? from.slice(0, from.lastIndexOf("/") + 1) : ""
  const parts: Array<string> = []
  for (const part of `${base}${path}`.split("/")) {
    if (part === "..") parts.pop()
    else if (part !== ".") parts.push(part)
  }
  return { path: parts.join("/"), anchor }
}

describe("README and docs/", () => {
  it("show every example a newcomer needs, as tested copies", () => {
    const shown = documents.flatMap((document) => copiesIn(read(document)).map(({ path }) => path))
    for (
      const path of [
        "examples/echo-chat.ts",
        "examples/server.ts",
        "examples/room.ts",
        "examples/room.test.ts",
        "examples/cluster.ts",
        "examples/chat-room.ts",
        "examples/json-protocol.ts",
        "examples/json-protocol.test.ts"
      ]
    ) {
      assert.include(shown, path)
    }
  })

  it("the README stays what a newcomer reads in one sitting, and links every page of docs/", () => {
    const readme = read("README.md")
    assert.isAtMost(readme.split("\n").length, 300)
    for (const command of ["npm install", "npm start", "npm test"]) assert.include(readme, command)
    const linked = linksIn(readme).map((target) => resolve("README.md", target).path)
    for (const page of pages) assert.include(linked, page)
  })

  for (const document of [...documents, effect4Readme]) {
    describe(document, () => {
      const text = read(document)

      it("has no TypeScript block that is not a marked copy of an example", () => {
        const blocks = text.match(/^```(ts|typescript)$/gm)?.length ?? 0
        assert.strictEqual(blocks, copiesIn(text).length)
      })

      for (const { code, path } of copiesIn(text)) {
        it(`its copy of ${path} matches the file`, () => {
          assert.strictEqual(code, read(`${packageOf(document)}${path}`))
        })
      }
    })
  }

  it("the Effect 4 README shows its echo chat, server, protocol and test kit as tested copies", () => {
    const shown = copiesIn(read(effect4Readme)).map(({ path }) => path)
    for (
      const path of [
        "examples/echo-chat.ts",
        "examples/server.ts",
        "examples/json-protocol.ts",
        "examples/room.test.ts"
      ]
    ) {
      assert.include(shown, path)
    }
  })

  for (const document of [...documents, "BENCHMARKS.md", effect4Readme]) {
    it(`${document}: every relative link leads to a file, and every anchor to a heading`, () => {
      const broken: Array<string> = []
      for (const target of linksIn(read(document))) {
        const { anchor, path } = resolve(document, target)
        if (!existsSync(`${root}${path}`)) broken.push(target)
        else if (anchor !== undefined && !anchorsOf(read(path)).has(anchor)) broken.push(target)
      }
      assert.deepStrictEqual(broken, [])
    })
  }
})
