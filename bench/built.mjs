// The benchmark servers run effect-websocket as its users run it: the compiled package (dist/, built by
// `npm run build`), not src/ through tsx. tsx compiles with esbuild's keepNames, which wraps every
// function the library makes per connection in a `__name` call (a defineProperty per closure): CPU
// and heap per connection that no user pays. The server files themselves still run through tsx;
// TSX_TSCONFIG_PATH points "effect-websocket" at dist/ (bench/tsconfig.dist.json of each line).
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

/** The newest modification time under `dir`, in milliseconds (symlinked folders followed). */
const newest = (dir) => {
  let latest = 0
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    const stat = statSync(path)
    latest = Math.max(latest, stat.isDirectory() ? newest(path) : stat.mtimeMs)
  }
  return latest
}

const checked = new Map()

/**
 * The environment for a bench server of the package in `dir` (the repository root or its effect4/
 * folder): its dist/ in place of src/. Throws when dist/ is missing or older than src/, so that a run
 * never measures stale code. Checked once per process: a source edited during a run does not stop it.
 */
export const builtEnv = (dir) => {
  if (!checked.has(dir)) checked.set(dir, check(dir))
  return checked.get(dir)
}

const check = (dir) => {
  const index = join(dir, "dist", "index.js")
  const build = dir.endsWith("effect4") ? "npm run build -w effect-websocket-effect4" : "npm run build"
  if (!existsSync(index)) throw new Error(`${index} is missing: run \`${build}\` before the benchmarks`)
  if (newest(join(dir, "src")) > newest(join(dir, "dist"))) {
    throw new Error(`${join(dir, "src")} is newer than its dist/: run \`${build}\` before the benchmarks`)
  }
  return { ...process.env, TSX_TSCONFIG_PATH: join(dir, "bench", "tsconfig.dist.json") }
}
