/** An example program run as a user runs it, in its own process, with its output collected. */
import { Deferred, Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { within } from "./server.js"

const root = fileURLToPath(new URL("../..", import.meta.url))

export interface ProgramOptions<A> {
  readonly env: Record<string, string>
  /** In its own process group (as from a terminal), so that a signal can go to the whole group. */
  readonly group?: boolean
  /** What the output says once the program is ready, or `undefined` while it is not. */
  readonly ready: (output: string) => A | undefined
  readonly readySeconds: number
  /** Flags for node itself, such as `--expose-gc`. */
  readonly nodeFlags?: ReadonlyArray<string>
  /** The node binary (this process's by default), such as Node 22's from scripts/node22.mjs. */
  readonly node?: string
  /** Loads `file` through tsx (the default); `false` for JavaScript, as a bundle (test/support/bundle.ts). */
  readonly tsx?: boolean
  /** Arguments after the file. */
  readonly args?: ReadonlyArray<string>
}

/**
 * Runs `node --import tsx file` (`node file` with `tsx: false`); the scope's end kills it (and its group)
 * if it is still running.
 */
export const startProgram = <A>(file: string, options: ProgramOptions<A>) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const loader = options.tsx === false ? [] : ["--import", "tsx"]
      const args = [...(options.nodeFlags ?? []), ...loader, file, ...(options.args ?? [])]
      const child = spawn(options.node ?? process.execPath, args, {
        cwd: root,
        env: { ...process.env, ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: options.group === true
      })
      let output = ""
      const ready = yield* Deferred.make<A>()
      const exited = yield* Deferred.make<number | null>()
      const collect = (chunk: Buffer) => {
        output += chunk.toString()
        const value = options.ready(output)
        if (value !== undefined) Deferred.unsafeDone(ready, Exit.succeed(value))
      }
      child.stdout!.on("data", collect)
      child.stderr!.on("data", collect)
      child.on("exit", (code) => Deferred.unsafeDone(exited, Exit.succeed(code)))
      return {
        child,
        ready: within(`${file} is ready`, Deferred.await(ready), options.readySeconds),
        exited: within(`${file} exits`, Deferred.await(exited), 15),
        output: () => output
      }
    }),
    ({ child }) =>
      Effect.sync(() => {
        try {
          // the group may outlive its leader
          if (options.group === true) process.kill(-child.pid!, "SIGKILL")
          else if (child.exitCode === null) child.kill("SIGKILL")
        } catch {
          // already gone
        }
      })
  )
