// The packed Effect 4 tarball (scripts/pack-effect4.mjs: effect-websocket@2, tag next) as users install
// it, on Node 22: publint and attw find nothing wrong; a fresh folder with effect@4 and the package runs
// the echo chat over a socket, a typed protocol and the test kit (and BroadcastRedis says what to
// install); a fresh folder that adds ioredis broadcasts through a real Redis.
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { redisServer } from "../support/redis.js"

const folder = fileURLToPath(new URL("../..", import.meta.url))
const root = join(folder, "..")
/** The version the workspace installed: effect4's own (Effect 4), or the root's where npm hoisted it. */
const installed = (name: string): string => {
  const own = join(folder, "node_modules", name, "package.json")
  const file = existsSync(own) ? own : join(root, "node_modules", name, "package.json")
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version
}
const bin = (name: string) => join(root, "node_modules", ".bin", name)

let tarball = ""
const pack = () => {
  if (tarball !== "") return tarball
  const destination = mkdtempSync(join(tmpdir(), "effect-websocket-effect4-tgz-"))
  tarball = execFileSync(process.execPath, [join(root, "scripts/pack-effect4.mjs"), "--destination", destination], {
    cwd: root,
    encoding: "utf8"
  }).trim().split("\n").at(-1)!
  return tarball
}

/** A fresh folder with the tarball, the Effect 4 peers and `extra` installed (from the npm cache where it can). */
const freshFolder = (extra: ReadonlyArray<string>, script: string) => {
  const app = mkdtempSync(join(tmpdir(), "effect-websocket-effect4-app-"))
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  execFileSync("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--ignore-scripts",
    pack(),
    `effect@${installed("effect")}`,
    `@effect/platform-node@${installed("@effect/platform-node")}`,
    ...extra
  ], { cwd: app, stdio: "pipe" })
  copyFileSync(join(folder, "test/fixtures/tarball", script), join(app, script))
  return app
}

describe("the packed Effect 4 tarball", () => {
  afterAll(() => {
    if (tarball !== "") rmSync(join(tarball, ".."), { recursive: true, force: true })
  })

  it("is effect-websocket@2 for the next tag, with effect 4 peers; publint and attw (ESM only) find no problem", () => {
    const file = pack()
    const manifest = JSON.parse(
      execFileSync("tar", ["-xzOf", file, "package/package.json"], { encoding: "utf8" })
    ) as Record<string, any>
    assert.strictEqual(manifest.name, "effect-websocket")
    assert.match(manifest.version, /^2\./)
    assert.deepStrictEqual(manifest.publishConfig, { tag: "next" })
    assert.strictEqual(manifest.peerDependencies.effect, ">=4.1.5 <4.2")
    assert.isUndefined(manifest.private)
    const files = execFileSync("tar", ["-tzf", file], { encoding: "utf8" })
    assert.include(files, "package/dist/internal/core/lifecycle.js", "the shared core ships as files")
    const publint = spawnSync(bin("publint"), ["run", file, "--strict"], { encoding: "utf8" })
    assert.strictEqual(publint.status, 0, publint.stdout + publint.stderr)
    const attw = spawnSync(bin("attw"), [file, "--profile", "esm-only"], { encoding: "utf8" })
    assert.strictEqual(attw.status, 0, attw.stdout + attw.stderr)
  }, 180_000)

  it("installed with the Effect 4 peers only: echo chat, typed protocol and test kit run; no ioredis", () => {
    const app = freshFolder([], "without-redis.mjs")
    try {
      assert.isFalse(existsSync(join(app, "node_modules", "ioredis")), "ioredis is an optional peer")
      const effect = JSON.parse(readFileSync(join(app, "node_modules/effect/package.json"), "utf8")) as {
        version: string
      }
      assert.match(effect.version, /^4\./, "the app runs on Effect 4")
      const result = spawnSync(process.execPath, ["without-redis.mjs"], { cwd: app, encoding: "utf8", timeout: 60_000 })
      assert.strictEqual(result.status, 0, result.stderr)
      assert.deepStrictEqual(JSON.parse(result.stdout), {
        kit: "echo: kit",
        protocol: { totals: [2, 5], invalid: 1007 },
        network: "echo: net",
        redis: true
      })
    } finally {
      rmSync(app, { recursive: true, force: true })
    }
  }, 180_000)

  it.live(
    "installed with ioredis: BroadcastRedis carries a publish between two nodes",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const app = freshFolder([`ioredis@${installed("ioredis")}`], "with-redis.mjs")
        try {
          const result = spawnSync(process.execPath, ["with-redis.mjs"], {
            cwd: app,
            encoding: "utf8",
            timeout: 60_000,
            env: { ...process.env, REDIS_URL: redis.url }
          })
          assert.strictEqual(result.status, 0, result.stderr)
          assert.deepStrictEqual(JSON.parse(result.stdout.trim().split("\n").at(-1)!), { received: "across Redis" })
        } finally {
          rmSync(app, { recursive: true, force: true })
        }
      }),
    180_000
  )
})
