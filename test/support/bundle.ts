/**
 * Fixtures bundled with esbuild, each into one `.mjs` file (the package's sources through tsconfig's
 * paths, every dependency inlined), for child processes that must start fast: a bundle loads in a
 * fraction of the time `--import tsx` takes to load the same program file by file, which matters in a
 * test that starts a server process three times, or runs a program on another Node.
 */
import { build } from "esbuild"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { basename, extname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

export interface Bundles {
  /** The bundle of `file` (a path from the repository's root, as given). */
  readonly path: (file: string) => string
  readonly remove: () => Promise<void>
}

/** Bundles `files` (paths from the repository's root) into a temporary folder; `remove` deletes it. */
export const bundle = async (files: ReadonlyArray<string>): Promise<Bundles> => {
  const folder = await mkdtemp(join(tmpdir(), "effect-websocket-fixtures-"))
  await build({
    absWorkingDir: root,
    entryPoints: [...files],
    outdir: folder,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    tsconfig: "tsconfig.json",
    logLevel: "error",
    // the CommonJS dependencies inlined (ws) call `require` for Node's own modules
    banner: { js: "import { createRequire } from \"node:module\"; const require = createRequire(import.meta.url);" }
  })
  return {
    path: (file) => join(folder, `${basename(file, extname(file))}.mjs`),
    remove: () => rm(folder, { recursive: true, force: true })
  }
}
