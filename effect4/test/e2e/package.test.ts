// The published shape: after the build (effect4/dist), a plain Node ESM program imports the public
// modules from the package, and nothing under internal/ is reachable. The package is imported by the
// workspace's own name, effect-websocket-effect4, through effect4/package.json's exports: the name
// users install, effect-websocket@2, is given by scripts/pack-effect4.mjs and checked on the packed
// tarball by tarball.test.ts.
import { assert, describe, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** The Effect 4 package's folder (`effect4/`). */
const root = fileURLToPath(new URL("../..", import.meta.url))

const runModule = (source: string) =>
  spawnSync(process.execPath, ["--input-type=module", "-e", source], { cwd: root, encoding: "utf8" })

describe("package", () => {
  it("builds, and a plain Node ESM program imports the public modules", () => {
    execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "pipe" })
    const result = runModule(`
      import * as Index from "effect-websocket-effect4"
      import { Action, Connection, Message, Upgrade } from "effect-websocket-effect4"
      import { NodeServer } from "effect-websocket-effect4/node"
      import * as UpgradeModule from "effect-websocket-effect4/Upgrade"
      console.log(JSON.stringify({
        upgrade: typeof Upgrade.upgradeWebSocket,
        nodeServer: typeof NodeServer.layer,
        layerFrom: typeof NodeServer.layerFrom,
        deprecated: typeof Index.NodeServer,
        subpath: UpgradeModule.upgradeWebSocket === Upgrade.upgradeWebSocket,
        stop: Action.stopConnection().code,
        text: Message.TextMessage("hi").text,
        sendError: new Connection.SendError({ reason: "SocketClosed" })._tag
      }))
    `)
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual(JSON.parse(result.stdout), {
      upgrade: "function",
      nodeServer: "function",
      layerFrom: "function",
      // the Effect 3 package's root kept a deprecated NodeServer (loading the Node server lazily); the
      // Effect 4 package has none: NodeServer is only at effect-websocket/node
      deprecated: "undefined",
      subpath: true,
      stop: 1000,
      text: "hi",
      sendError: "SendError"
    })
  }, 120_000)

  it("every public module is also a subpath of the package", () => {
    const names = Array.from(
      readFileSync(new URL("../../src/index.ts", import.meta.url), "utf8").matchAll(/export \* as (\w+) from/g),
      (match) => match[1]
    )
    assert.isAbove(names.length, 6)
    // no deprecated NodeServer at the root of the Effect 4 package (see above)
    assert.notInclude(names, "NodeServer")
    const result = runModule(`
      import * as Index from "effect-websocket-effect4"
      const names = ${JSON.stringify(names)}
      const same = await Promise.all(names.map(async (name) => {
        const module = await import("effect-websocket-effect4/" + name)
        return Object.keys(Index[name]).every((key) => module[key] === Index[name][key])
      }))
      console.log(JSON.stringify(same))
    `)
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual(JSON.parse(result.stdout), names.map(() => true))
  }, 60_000)

  it("does not export internal modules", () => {
    const result = runModule(`import "effect-websocket-effect4/internal/loop.js"`)
    assert.notStrictEqual(result.status, 0)
    assert.include(result.stderr, "ERR_PACKAGE_PATH_NOT_EXPORTED")
  })
})
