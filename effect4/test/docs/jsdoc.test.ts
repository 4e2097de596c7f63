// Every `@example` in the Effect 4 package's public modules compiles against Effect 4: extracted and
// type-checked with effect4/tsconfig.json (the Effect 3 package's are checked by test/docs/jsdoc.test.ts).
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const folder = fileURLToPath(new URL("../..", import.meta.url))

const examples = readdirSync(join(folder, "src"))
  .filter((name) => name.endsWith(".ts"))
  .flatMap((name) => {
    const source = readFileSync(join(folder, "src", name), "utf8")
    return [...source.matchAll(/```ts\n([\s\S]*?)```/g)].map((match, i) => ({
      name: `${name.replace(".ts", "")}_${i}.ts`,
      code: match[1].split("\n").map((line) => line.replace(/^\s*\* ?/, "")).join("\n")
    }))
  })

describe("JSDoc examples of the Effect 4 package", () => {
  it("are there, written for Effect 4 (no @effect/platform, which would resolve the root's Effect 3 copy)", () => {
    assert.isAbove(examples.length, 20)
    const platform = examples.filter((example) => /from "@effect\/platform(\/[\w]+)?"/.test(example.code))
    assert.deepStrictEqual(platform.map((example) => example.name), [])
  })

  it("all type-check against the sources, on Effect 4", () => {
    const dir = mkdtempSync(join(folder, "test", ".jsdoc-"))
    try {
      mkdirSync(join(dir, "examples"))
      for (const example of examples) writeFileSync(join(dir, "examples", example.name), `${example.code}\nexport {}\n`)
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          extends: join(folder, "tsconfig.json"),
          compilerOptions: { noUnusedLocals: false, noEmit: true, baseUrl: folder },
          include: ["examples"]
        })
      )
      const tsc = join(folder, "..", "node_modules/typescript/bin/tsc")
      const result = spawnSync(process.execPath, [tsc, "-p", dir], { encoding: "utf8" })
      assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
