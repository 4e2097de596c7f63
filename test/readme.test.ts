// README code blocks marked `<!-- examples/NAME.ts -->` are copies of files that tsc checks.
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const readme = readFileSync(`${root}README.md`, "utf8")
const copies = [...readme.matchAll(/<!-- (examples\/[\w.-]+\.ts) -->\n```ts\n([\s\S]*?)```/g)]

describe("README", () => {
  it("shows at least the quick-start example", () => {
    assert.include(copies.map(([, path]) => path), "examples/echo-chat.ts")
  })

  for (const [, path, code] of copies) {
    it(`its copy of ${path} matches the file`, () => {
      assert.strictEqual(code, readFileSync(`${root}${path}`, "utf8"))
    })
  }
})
