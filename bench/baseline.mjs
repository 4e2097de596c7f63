// --baseline DIR, shared by the benchmarks: DIR's effect-websocket echo server (another checkout,
// e.g. a `git worktree` of the previous commit with node_modules), run as one more server of the
// rotation, to measure a change against what it changes in the same run (and DIR's typed JSON route in the
// JSON scenarios, as "baseline typed JSON"). `[]` without the flag.
// With --effect4 as well, DIR's Effect 4 app server is added too ("baseline 4 app", on Node 22, compared
// with ws on Node 22 and the Effect 4 floor): DIR needs node_modules and effect4/node_modules (symlinks
// to this checkout's do), and both its packages built (dist/ and effect4/dist/, as bench/built.mjs checks).
import { join } from "node:path"
import { builtEnv } from "./built.mjs"
import { effect4Servers, FLOOR4, WS_NODE22 } from "./effect4.mjs"

export const BASELINE4 = "baseline 4 app"

export const baselineServers = (argv = process.argv) => {
  const flag = argv.indexOf("--baseline")
  if (flag < 0) return []
  const dir = argv[flag + 1]
  const servers = [
    {
      name: "baseline",
      cwd: dir,
      env: builtEnv(dir),
      args: ["--import", "tsx", join(dir, "bench/servers/effect-websocket.ts")]
    },
    // the typed route too, in the JSON scenarios: a change to the typed layer is measured against it
    {
      name: "baseline typed JSON",
      json: true,
      cwd: dir,
      env: builtEnv(dir),
      args: ["--import", "tsx", join(dir, "bench/servers/effect-json-typed.ts")]
    }
  ]
  const [line] = effect4Servers(argv)
  if (line !== undefined) {
    servers.push({
      ...line,
      name: BASELINE4,
      cwd: join(dir, "effect4"),
      env: builtEnv(join(dir, "effect4")),
      reference: WS_NODE22,
      floor: FLOOR4,
      args: ["--import", "tsx", join(dir, "effect4/bench/servers/effect-websocket-app.ts")]
    })
  }
  return servers
}
