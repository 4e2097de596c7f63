// The package's root is runtime-neutral: importing it loads no socket library, no Node server and no
// Redis client. Checked twice: statically over the sources' value imports, and at run time in a
// plain Node process over the built package (effect4/dist, imported by the workspace's own name,
// effect-websocket-effect4, which scripts/pack-effect4.mjs publishes as effect-websocket@2).
import { assert, describe, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** The Effect 4 package's folder (`effect4/`). */
const root = fileURLToPath(new URL("../..", import.meta.url))
// `@effect/platform` covers `@effect/platform-node` and the root's Effect 3 `@effect/platform`, which
// the Effect 4 line must never import (HTTP is `effect/http` there)
const forbidden = (specifier: string) =>
  specifier === "ws" || specifier === "ioredis" || specifier.startsWith("node:") ||
  specifier.startsWith("@effect/platform")

/**
 * Every module specifier the value imports of `file` reach, following the package's own files. The
 * clause before `from` is names, `* as`, commas and `{ ... }` only: a statement such as
 * `export function f(...)` is no import, even when a JSDoc example further down says `from "..."`.
 */
const reached = (file: string, seen = new Set<string>(), found = new Set<string>()): Set<string> => {
  if (seen.has(file)) return found
  seen.add(file)
  const source = readFileSync(file, "utf8")
  for (const match of source.matchAll(/^(?:import|export)\s+(?!type\b)(?:[\w$*,\s]|\{[^}]*\})*?\bfrom\s+"([^"]+)"/gm)) {
    const specifier = match[1]
    if (specifier.startsWith(".")) reached(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")), seen, found)
    else found.add(specifier)
  }
  return found
}

describe("entry points", () => {
  it("the root's value imports reach no ws, node:*, @effect/platform(-node) or ioredis", () => {
    const external = [...reached(`${root}src/index.ts`)]
    assert.isAbove(external.length, 3)
    assert.deepStrictEqual(external.filter(forbidden), [])
  })

  it("the Node entry is the one that reaches them", () => {
    const external = [...reached(`${root}src/node.ts`)]
    assert.include(external, "ws")
    assert.isTrue(external.some((specifier) => specifier.startsWith("@effect/platform-node")))
  })

  it("importing the built root and running the test kit loads neither ws nor ioredis", () => {
    execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "pipe" })
    const result = spawnSync(process.execPath, [
      "--input-type=module",
      "-e",
      `
      import { createRequire } from "node:module"
      import { Effect } from "effect"
      import { Action, Testing, Upgrade } from "effect-websocket-effect4"
      const echo = {
        onInit: () => Effect.succeed(Upgrade.initial(null)),
        onMessage: (state, message, connection) => Effect.as(Effect.void, Action.continueConnection(state)),
        onClose: () => Effect.void
      }
      await Effect.runPromise(Effect.scoped(Effect.flatMap(Testing.connect(echo), (client) => client.sendText("hi"))))
      const loaded = Object.keys(createRequire(import.meta.url).cache)
      console.log(JSON.stringify(loaded.filter((path) => /node_modules\\/(ws|ioredis)\\//.test(path))))
    `
    ], { cwd: root, encoding: "utf8" })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual(JSON.parse(result.stdout), [])
  }, 120_000)
})
