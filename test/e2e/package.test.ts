// The published shape: after `npm run build`, a plain Node ESM program imports the four modules
// from "effect-websocket", and nothing under internal/ is reachable.
import { assert, describe, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

const runModule = (source: string) =>
  spawnSync(process.execPath, ["--input-type=module", "-e", source], { cwd: root, encoding: "utf8" })

describe("package", () => {
  it("builds, and a plain Node ESM program imports the public modules", () => {
    execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "pipe" })
    const result = runModule(`
      import { Action, Connection, Message, NodeServer as Deprecated, Upgrade } from "effect-websocket"
      import { NodeServer } from "effect-websocket/node"
      import * as UpgradeModule from "effect-websocket/Upgrade"
      console.log(JSON.stringify({
        upgrade: typeof Upgrade.upgradeWebSocket,
        nodeServer: typeof NodeServer.layer,
        layerFrom: typeof NodeServer.layerFrom,
        deprecated: typeof Deprecated.layer,
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
      deprecated: "function",
      subpath: true,
      stop: 1000,
      text: "hi",
      sendError: "SendError"
    })
  }, 120_000)

  it("every public module is also a subpath of the package", () => {
    const modules = Array.from(
      readFileSync(new URL("../../src/index.ts", import.meta.url), "utf8").matchAll(/export \* as (\w+) from/g),
      (match) => match[1]
    )
    assert.isAbove(modules.length, 6)
    // the root's NodeServer is the deprecated one that loads the Node server lazily; the subpath is the real one
    const names = modules.filter((name) => name !== "NodeServer")
    const result = runModule(`
      import * as Index from "effect-websocket"
      const names = ${JSON.stringify(names)}
      const same = await Promise.all(names.map(async (name) => {
        const module = await import("effect-websocket/" + name)
        return Object.keys(Index[name]).every((key) => module[key] === Index[name][key])
      }))
      console.log(JSON.stringify(same))
    `)
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual(JSON.parse(result.stdout), names.map(() => true))
  }, 60_000)

  it("does not export internal modules", () => {
    const result = runModule(`import "effect-websocket/internal/loop.js"`)
    assert.notStrictEqual(result.status, 0)
    assert.include(result.stderr, "ERR_PACKAGE_PATH_NOT_EXPORTED")
  })
})
