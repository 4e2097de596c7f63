#!/usr/bin/env node
// Runs a command on Node 22 for the Effect 4 line (effect4/): vitest 5 and Effect 4 need Node >= 22.12,
// while the Effect 3 package is tested on the machine's Node (20 here). Node 22 comes from npm's `node`
// package, installed into .tools/node22 (its own folder, outside the workspace, so that its binary is
// never hoisted into node_modules/.bin where it would run the Effect 3 tests too).
//
//   node scripts/node22.mjs [--install] <script.js|bin> [args...]
//
// `--install` only makes sure Node 22 is there. The current Node is used when it is already >= 22.12.
import { spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const VERSION = "22.23.3"
const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const folder = join(root, ".tools", "node22")
const binary = join(folder, "node_modules", "node", "bin", "node")

const current = process.versions.node.split(".").map(Number)
const currentWillDo = current[0] > 22 || (current[0] === 22 && current[1] >= 12)

export const node22 = () => {
  if (currentWillDo) return process.execPath
  if (!existsSync(binary)) {
    const npm = process.platform === "win32" ? "npm.cmd" : "npm"
    const installed = spawnSync(
      npm,
      ["install", "--no-audit", "--no-fund", "--no-save", "--prefix", folder, `node@${VERSION}`],
      { stdio: "inherit" }
    )
    if (installed.status !== 0 || !existsSync(binary)) {
      console.error(`could not install Node ${VERSION} into ${folder} (npm exited ${installed.status})`)
      process.exit(1)
    }
  }
  return binary
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const install = args[0] === "--install"
  const node = node22()
  if (install) {
    const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()
    console.log(`Node ${version} for the Effect 4 line: ${node}`)
    process.exit(0)
  }
  // the child runs the program; a signal to this process (npm forwards Ctrl-C and SIGTERM) goes on to
  // it, and this process exits as it does, so a graceful shutdown is not cut short
  const child = spawn(node, args, {
    stdio: "inherit",
    env: { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}` }
  })
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
  child.on(
    "exit",
    (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0)))
  )
}
