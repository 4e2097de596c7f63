// Bundles the chat page (examples/public/chat.ts, the typed Client and the room's protocol) for the
// browser with esbuild: one minified script, examples/public/chat.bundle.js (not committed), built
// when the demo server starts (both lines' demo-page.ts), so `npm start` needs no separate step.
// `npm run build:page` builds it alone and prints its sizes (BENCHMARKS.md).
import { type BuildOptions, buildSync, type Metafile } from "esbuild"
import { renameSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

const at = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/** Where the page's script is written. */
export const bundlePath = at("./public/chat.bundle.js")

const options = {
  entryPoints: [at("./public/chat.ts")],
  // the page's own tsconfig: the DOM's types, and `effect-websocket/*` mapped to src/
  tsconfig: at("./public/tsconfig.json"),
  bundle: true,
  // a classic script (`<script src="/chat.js" defer>`), whose names stay out of the page's globals
  format: "iife",
  platform: "browser",
  target: "es2022",
  minify: true,
  legalComments: "none",
  outfile: bundlePath,
  metafile: true,
  write: false,
  logLevel: "warning"
} satisfies BuildOptions

/**
 * Builds the page's script (about half a second); returns its path and what went into it (the
 * metafile's `outputs[…].inputs` are the files that kept bytes in it after tree shaking).
 */
export const buildPage = (): { readonly path: string; readonly metafile: Metafile } => {
  const result = buildSync(options)
  // written aside, then renamed over the old one: a server (or a test) building at the same moment
  // never serves half a script
  const aside = `${bundlePath}.${process.pid}.tmp`
  writeFileSync(aside, result.outputFiles[0].contents)
  renameSync(aside, bundlePath)
  return { path: bundlePath, metafile: result.metafile }
}

/** The page's script in bytes: bundled but not minified, minified (as served), and that gzipped (-9). */
export const measurePage = () => {
  const [raw, minified] = [false, true].map((minify) => buildSync({ ...options, minify }).outputFiles[0].contents)
  return {
    raw: raw.byteLength,
    rawGzipped: gzipSync(raw, { level: 9 }).byteLength,
    minified: minified.byteLength,
    gzipped: gzipSync(minified, { level: 9 }).byteLength
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { path } = buildPage()
  const sizes = measurePage()
  console.log(`${path}`)
  console.log(`  not minified ${sizes.raw} B (gzip ${sizes.rawGzipped} B)`)
  console.log(`  minified     ${sizes.minified} B (gzip ${sizes.gzipped} B), as served`)
}
