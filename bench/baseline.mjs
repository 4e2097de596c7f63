// --baseline DIR, shared by the benchmarks: DIR's effect-websocket echo server (another checkout,
// e.g. a `git worktree` of the previous commit with node_modules), run as one more server of the
// rotation, to measure a change against what it changes in the same run. `[]` without the flag.
import { join } from "node:path"

export const baselineServers = (argv = process.argv) => {
  const flag = argv.indexOf("--baseline")
  if (flag < 0) return []
  const dir = argv[flag + 1]
  return [{ name: "baseline", cwd: dir, args: ["--import", "tsx", join(dir, "bench/servers/effect-websocket.ts")] }]
}
