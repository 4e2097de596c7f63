// README code blocks marked `<!-- examples/NAME.ts -->` are copies of files that tsc checks.
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const readme = readFileSync(`${root}README.md`, "utf8")
const copies = [...readme.matchAll(/<!-- (examples\/[\w.-]+\.ts) -->\n```ts\n([\s\S]*?)```/g)]

describe("README", () => {
  it("shows the quick start and the testing example", () => {
    const shown = copies.map(([, path]) => path)
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

  for (const [, path, code] of copies) {
    it(`its copy of ${path} matches the file`, () => {
      assert.strictEqual(code, readFileSync(`${root}${path}`, "utf8"))
    })
  }
})
