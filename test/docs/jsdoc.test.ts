// Every `@example` in the public modules' JSDoc compiles: they are extracted and type-checked.
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

const examples = readdirSync(join(root, "src"))
  .filter((name) => name.endsWith(".ts"))
  .flatMap((name) => {
    const source = readFileSync(join(root, "src", name), "utf8")
    return [...source.matchAll(/```ts\n([\s\S]*?)```/g)].map((match, i) => ({
      name: `${name.replace(".ts", "")}_${i}.ts`,
      code: match[1].split("\n").map((line) => line.replace(/^\s*\* ?/, "")).join("\n")
    }))
  })

describe("JSDoc examples", () => {
  it("are there", () => {
    assert.isAbove(examples.length, 20)
  })

  it("all type-check against the sources", () => {
    const dir = mkdtempSync(join(root, "test", ".jsdoc-"))
    try {
      mkdirSync(join(dir, "examples"))
      for (const example of examples) writeFileSync(join(dir, "examples", example.name), `${example.code}\nexport {}\n`)
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          extends: join(root, "tsconfig.json"),
          compilerOptions: { noUnusedLocals: false, noEmit: true, baseUrl: root },
          include: ["examples"]
        })
      )
      const result = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", dir], {
        encoding: "utf8"
      })
      assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
