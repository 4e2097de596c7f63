// --effect4, shared by run.mjs, memory.mjs and handshake.mjs: the Effect 4 line's servers, measured in
// the same run as the Effect 3 ones. They live in effect4/bench/servers and run from effect4/ on Node
// 22 (Effect 4 needs >= 22.12; scripts/node22.mjs installs it into .tools/node22), so that "effect" is
// effect@4 and "effect-websocket" is effect4/src through effect4/tsconfig.json's paths, as the root
// tsconfig resolves it to src/ for the Effect 3 servers. Raw ws runs on that Node too, so that an
// Effect 4 server's × ws compares like with like; the Effect 3 servers keep this process's Node.
//
// Also --servers "ws,Effect 4 floor,...": only the servers whose names start with one of these (and
// always the references the ratios need), to repeat a comparison without the whole rotation.
import { spawnSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { node22 } from "../scripts/node22.mjs"
import { builtEnv } from "./built.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const effect4 = join(here, "..", "effect4")

export const WS_NODE22 = "ws (Node 22)"
export const FLOOR4 = "Effect 4 floor"
export const APP4 = "effect-websocket 4 app"
export const PROD4 = "effect-websocket 4"
export const FLOOR4_APP = "Effect 4 floor app"
export const PLATFORM4 = "Effect 4 platform floor"

/**
 * The Effect 4 servers with `--effect4` in argv, [] without: ws on Node 22, the floor, the app server
 * (the targets are its), the floor running the app's handler, the platform floor (an upgrade from a
 * platform route, then raw ws: what any library answering from a route starts from) and the
 * production-defaults echo; each runs the built package (bench/built.mjs). `node` is the binary to run each with,
 * `cwd` the folder it resolves its packages from; `reference` and `floor` name the servers its × ws
 * and × floor are against (those of its own line and Node).
 */
export const effect4Servers = (argv = process.argv) => {
  if (!argv.includes("--effect4")) return []
  const node = node22()
  const nodeVersion = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()
  const line = {
    node,
    nodeVersion,
    cwd: effect4,
    env: builtEnv(effect4),
    reference: WS_NODE22,
    floor: FLOOR4,
    effect4: true
  }
  return [
    { ...line, name: WS_NODE22, cwd: join(here, ".."), args: [join(here, "servers/ws.mjs")] },
    { ...line, name: FLOOR4, args: ["--import", "tsx", join(effect4, "bench/servers/effect-floor.ts")] },
    { ...line, name: APP4, args: ["--import", "tsx", join(effect4, "bench/servers/effect-websocket-app.ts")] },
    // the floor with the app server's handler: the same per-message work on both sides of the ratio
    { ...line, name: FLOOR4_APP, args: ["--import", "tsx", join(effect4, "bench/servers/effect-floor-app.ts")] },
    // an upgrade through the platform's HTTP server and router, then raw ws: no library code
    { ...line, name: PLATFORM4, args: ["--import", "tsx", join(effect4, "bench/servers/platform-floor.ts")] },
    // the production-defaults echo (an Effect.as handler), as bench/servers/effect-websocket.ts
    { ...line, name: PROD4, args: ["--import", "tsx", join(effect4, "bench/servers/effect-websocket.ts")] }
  ]
}

/** The servers `--servers` keeps (prefixes of names), plus the references and floors they are compared with. */
export const selectServers = (servers, argv = process.argv) => {
  const flag = argv.indexOf("--servers")
  if (flag < 0) return servers
  const wanted = argv[flag + 1].split(",").map((part) => part.trim()).filter(Boolean)
  const kept = servers.filter((server) => wanted.some((prefix) => server.name.startsWith(prefix)))
  // ws on this process's Node stays too: the Effect 4 lines are reported against both
  const needed = new Set([
    "ws",
    ...kept.flatMap((server) => [server.reference ?? "ws", server.floor ?? "Effect floor"])
  ])
  return servers.filter((server) => kept.includes(server) || needed.has(server.name))
}

/** The name of the raw ws server `server` is compared with: ws on the same Node. */
export const referenceOf = (servers, name) => servers.find((server) => server.name === name)?.reference ?? "ws"
/** The name of the Effect floor `server` is compared with: the floor of its own Effect line. */
export const floorOf = (servers, name) => servers.find((server) => server.name === name)?.floor ?? "Effect floor"

/** The targets for the Effect 4 line, as ratios (at least `min`, or at most `max`). */
export const targets = {
  handshake: { label: "handshakes/s × ws", min: 0.8 },
  memory: { label: "heap per idle connection × ws", max: 1.5 },
  pingPong: { label: "ping-pong 100 conn × Effect 4 floor", min: 1.0 },
  pipelined: { label: "pipelined 1000 conn × Effect 4 floor", min: 1.3 }
}

/** "met" or "missed" for a ratio against a target. */
export const verdict = (target, ratio) => {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "-"
  const met = target.min !== undefined ? ratio >= target.min : ratio <= target.max
  return `${met ? "met" : "MISSED"} (target ${target.min !== undefined ? ">=" : "<="} ${target.min ?? target.max})`
}

// node bench/effect4.mjs --check: starts the Effect 4 app server and echoes one text and one binary message over
// loopback (exit 0 when both come back). node bench/effect4.mjs [--quick] [--repeat N] [--servers ...]: the three
// benchmarks with --effect4, in turn (handshakes, memory at 10,000 idle connections, ping-pong 100 and pipelined
// 1,000), each printing its Effect 4 target lines.
const check = async () => {
  const { spawn } = await import("node:child_process")
  const { WebSocket } = await import("ws")
  const [server] = effect4Servers(["--effect4"]).filter((server) => server.name === APP4)
  const child = spawn(server.node, server.args, { cwd: server.cwd, env: server.env, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout.on("data", (chunk) => (output += chunk))
  child.stderr.on("data", (chunk) => (output += chunk))
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no PORT line within 30 s")), 30_000)
      child.stdout.on("data", () => {
        const match = /PORT (\d+)/.exec(output)
        if (match) {
          clearTimeout(timer)
          resolve(Number(match[1]))
        }
      })
      child.once("exit", (code) => reject(new Error(`exited with ${code}`)))
    })
    const echoed = await new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`)
      const got = []
      const timer = setTimeout(() => reject(new Error(`no echo within 5 s (got ${got.length})`)), 5000)
      ws.on("open", () => {
        ws.send("hello")
        ws.send(Buffer.from([1, 2, 3]))
      })
      ws.on("message", (data, isBinary) => {
        got.push(isBinary ? `binary ${[...data].join(",")}` : `text ${data}`)
        if (got.length === 2) {
          clearTimeout(timer)
          ws.close()
          resolve(got)
        }
      })
      ws.on("error", reject)
    })
    console.log(`${APP4} serves on port ${port}: ${echoed.join(", ")}`)
    return 0
  } catch (error) {
    console.log(`${APP4} does not serve yet: ${error.message}\n${output.split("\n").slice(0, 12).join("\n")}`)
    return 1
  } finally {
    child.kill("SIGKILL")
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes("--check")) process.exit(await check())
  const quick = process.argv.includes("--quick")
  const passed = process.argv.slice(2).filter((arg) => arg !== "--effect4")
  const withFlag = (flag, value) => (passed.includes(flag) ? [] : [flag, value])
  const steps = [
    ["handshake.mjs", "--effect4", ...passed],
    ["memory.mjs", "--effect4", ...withFlag("--counts", quick ? "1000" : "10000"), ...passed],
    [
      "run.mjs",
      "--effect4",
      ...withFlag(
        "--only",
        quick ? "ping-pong 100 conn 32 B,pipelined 100 conn 32 B" : "ping-pong 100 conn 32 B,pipelined 1000 conn 32 B"
      ),
      ...passed
    ]
  ]
  for (const [script, ...args] of steps) {
    console.log(
      `\nnode bench/${script} ${args.map((arg) => (arg.includes(" ") ? JSON.stringify(arg) : arg)).join(" ")}`
    )
    const done = spawnSync(process.execPath, [join(here, script), ...args], { stdio: "inherit" })
    if (done.status !== 0) process.exit(done.status ?? 1)
  }
}
