#!/usr/bin/env node
// Packs the Effect 4 line (effect4/) as the package users install: `effect-websocket@2` under the npm
// tag `next`, as Effect libraries moving to Effect 4 publish. The workspace folder has a private name of
// its own (effect-websocket-effect4): with the root's name, a CommonJS require.resolve from the root
// would find the Effect 4 package. So the tarball is made from a staging folder whose package.json has
// the published name, and whose src/ holds the shared core as files (in the repository it is a symlink).
//
//   node scripts/pack-effect4.mjs [--destination DIR]   prints the tarball's path
//   (publish: `npm publish <tarball> --tag next`)
//
// It compiles into effect4/dist-pack (then copied as the tarball's dist/, where its source maps point at
// the tarball's src/), never into effect4/dist, which tests of the built package read meanwhile.
import { execFileSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const folder = join(root, "effect4")
const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at < 0 ? undefined : args[at + 1]
}
const destination = option("--destination") ?? mkdtempSync(join(tmpdir(), "effect-websocket-effect4-pack-"))

const staging = mkdtempSync(join(tmpdir(), "effect-websocket-effect4-stage-"))
try {
  const built = join(folder, "dist-pack")
  rmSync(built, { recursive: true, force: true })
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json", "--outDir", built], { cwd: folder, stdio: "inherit" })
  cpSync(built, join(staging, "dist"), { recursive: true })
  rmSync(built, { recursive: true, force: true })
  const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"))
  const published = { ...manifest, name: "effect-websocket", publishConfig: { tag: "next" } }
  delete published.private
  delete published.scripts
  delete published.devDependencies
  published.files = [...new Set([...published.files, "src", "!src/**/*.test.ts"])]
  writeFileSync(join(staging, "package.json"), JSON.stringify(published, null, 2) + "\n")
  // dereference: the shared core is a symlink in the repository, files in the tarball
  for (const entry of ["src", "examples", "README.md"]) {
    if (existsSync(join(folder, entry))) {
      cpSync(join(folder, entry), join(staging, entry), { recursive: true, dereference: true })
    }
  }
  // one changelog for both lines: its 2.0.0-next entries are this package's
  cpSync(join(root, "LICENSE"), join(staging, "LICENSE"))
  cpSync(join(root, "CHANGELOG.md"), join(staging, "CHANGELOG.md"))
  // the pages of docs/ hold for both lines: shipped with this package too, and the README's links to
  // them (../docs/ in the repository) point at the shipped copies
  cpSync(join(root, "docs"), join(staging, "docs"), { recursive: true })
  const readme = join(staging, "README.md")
  writeFileSync(readme, readFileSync(readme, "utf8").replaceAll("](../docs/", "](docs/"))
  mkdirSync(destination, { recursive: true })
  const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", destination], {
    cwd: staging,
    encoding: "utf8"
  }).trim()
  console.log(join(destination, name))
} finally {
  rmSync(staging, { recursive: true, force: true })
}
