// Bundles the chat page (examples/public/chat.ts, the typed Client and the room's protocol) for the
// browser with esbuild: one minified script, examples/public/chat.bundle.js (not committed), built
// when the demo server starts (both lines' demo-page.ts), so `npm start` needs no separate step.
import { buildSync, type Metafile } from "esbuild"
import { renameSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const at = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/** Where the page's script is written. */
export const bundlePath = at("./public/chat.bundle.js")

/** Builds the page's script (about half a second); returns its path and what went into it. */
export const buildPage = (): { readonly path: string; readonly metafile: Metafile } => {
  const result = buildSync({
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
  })
  // written aside, then renamed over the old one: a server (or a test) building at the same moment
  // never serves half a script
  const aside = `${bundlePath}.${process.pid}.tmp`
  writeFileSync(aside, result.outputFiles[0].contents)
  renameSync(aside, bundlePath)
  return { path: bundlePath, metafile: result.metafile }
}
