// The packed tarball as users install it: publint and attw find nothing wrong; a fresh folder with
// only effect-websocket and the Effect 3 peers runs the echo chat and the test kit (and BroadcastRedis
// says what to install); a fresh folder that adds ioredis broadcasts through a real Redis.
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { redisServer } from "../support/redis.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
const installed = (name: string): string =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version
const bin = (name: string) => join(root, "node_modules", ".bin", name)

let tarball = ""
const pack = () => {
  if (tarball !== "") return tarball
  execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "pipe" })
  const destination = mkdtempSync(join(tmpdir(), "effect-websocket-pack-"))
  const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", destination], {
    cwd: root,
    encoding: "utf8"
  })
    .trim()
  tarball = join(destination, name)
  return tarball
}

/** A fresh folder with the tarball and `extra` installed (from the npm cache where it can), and one script of ours. */
const freshFolder = (extra: ReadonlyArray<string>, script: string) => {
  const folder = mkdtempSync(join(tmpdir(), "effect-websocket-app-"))
  writeFileSync(join(folder, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  execFileSync("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--ignore-scripts",
    pack(),
    `effect@${installed("effect")}`,
    `@effect/platform@${installed("@effect/platform")}`,
    `@effect/platform-node@${installed("@effect/platform-node")}`,
    ...extra
  ], { cwd: folder, stdio: "pipe" })
  copyFileSync(join(root, "test/fixtures/tarball", script), join(folder, script))
  return folder
}

describe("the packed tarball", () => {
  afterAll(() => {
    if (tarball !== "") rmSync(join(tarball, ".."), { recursive: true, force: true })
  })

  it("publint and attw (ESM only) find no problem", () => {
    const file = pack()
    const publint = spawnSync(bin("publint"), ["run", file, "--strict"], { encoding: "utf8" })
    assert.strictEqual(publint.status, 0, publint.stdout + publint.stderr)
    const attw = spawnSync(bin("attw"), [file, "--profile", "esm-only"], { encoding: "utf8" })
    assert.strictEqual(attw.status, 0, attw.stdout + attw.stderr)
  }, 180_000)

  it("installed with the Effect 3 peers only: the echo chat and the test kit run, ioredis is not installed", () => {
    const folder = freshFolder([], "without-redis.mjs")
    try {
      assert.isFalse(existsSync(join(folder, "node_modules", "ioredis")), "ioredis is an optional peer")
      const result = spawnSync(process.execPath, ["without-redis.mjs"], {
        cwd: folder,
        encoding: "utf8",
        timeout: 60_000
      })
      assert.strictEqual(result.status, 0, result.stderr)
      assert.deepStrictEqual(JSON.parse(result.stdout), { kit: "echo: kit", network: "echo: net", redis: true })
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  }, 180_000)

  it.scopedLive(
    "installed with ioredis: BroadcastRedis carries a publish between two nodes",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const folder = freshFolder([`ioredis@${installed("ioredis")}`], "with-redis.mjs")
        try {
          const result = spawnSync(process.execPath, ["with-redis.mjs"], {
            cwd: folder,
            encoding: "utf8",
            timeout: 60_000,
            env: { ...process.env, REDIS_URL: redis.url }
          })
          assert.strictEqual(result.status, 0, result.stderr)
          assert.deepStrictEqual(JSON.parse(result.stdout.trim().split("\n").at(-1)!), { received: "across Redis" })
        } finally {
          rmSync(folder, { recursive: true, force: true })
        }
      }),
    180_000
  )
})
