// Every public export carries a JSDoc block with @since (the house style's minimum).
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

// both lines: the Effect 3 package (src/) and the Effect 4 package (effect4/src/)
const folders = ["../../src/", "../../effect4/src/"].map((folder) => fileURLToPath(new URL(folder, import.meta.url)))
const modules = folders.flatMap((src) =>
  readdirSync(src).filter((name) => name.endsWith(".ts")).map((name) => ({ src, name }))
)

describe("public modules", () => {
  for (const { name, src } of modules) {
    it(`${src.includes("effect4") ? "effect4/" : ""}${name}: every export has a JSDoc block with @since`, () => {
      const lines = readFileSync(`${src}${name}`, "utf8").split("\n")
      const undocumented: Array<string> = []
      const seen = new Set<string>()
      lines.forEach((line, i) => {
        const match = /^export (const|function|class|interface|type|\* as) (\w+)/.exec(line)
        if (match === null) return
        // the overloads of a function share the JSDoc of the first signature
        if (match[1] === "function" && seen.has(match[2])) return
        seen.add(match[2])
        const above = lines.slice(0, i).join("\n")
        const block = above.slice(above.lastIndexOf("/**"))
        if (!lines[i - 1]?.trim().endsWith("*/") || !block.includes("@since")) {
          undocumented.push(`${name}:${i + 1} ${line}`)
        }
      })
      assert.deepStrictEqual(undocumented, [])
    })
  }
})
