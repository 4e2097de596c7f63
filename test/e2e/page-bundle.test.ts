// The demo page's script: the typed Client and the room's protocol bundled for a browser by
// examples/page.ts. It must hold no server code and nothing of Node, and stay about its measured size
// (BENCHMARKS.md, "The Client in a browser bundle": 416 KB minified, 129 KB gzipped on 2026-12-04,
// almost all of it Effect and Schema).
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { gzipSync } from "node:zlib"
import { buildPage } from "../../examples/page.js"

/** The measured size, gzipped (-9), and how far it may grow before this test fails. */
const measuredGzipped = 128_642
const bound = 1.5 * measuredGzipped

/**
 * Modules of a server: the transports, the upgrade, the connection's loop and its metrics, the Redis
 * backplane, the test kit, and the packages they stand on.
 */
const serverModule = new RegExp(
  [
    String.raw`node_modules/(ws|ioredis|undici|@effect/platform|@effect/platform-node)/`,
    String.raw`src/internal/(node|memory)/`,
    String.raw`src/(NodeServer|node|Upgrade|Acceptor|BroadcastRedis|Testing|Observability)\.ts$`,
    String.raw`src/internal/(upgrade|acceptor|connection|loop|inbox|liveness|handshake|limits|metrics|signal|` +
    String.raw`transport|backplane|nodeServerLazy|testing|trace)\.ts$`
  ].join("|")
)

describe("the chat page's bundle (examples/page.ts)", () => {
  const { metafile, path } = buildPage()
  // what kept bytes in the script after tree shaking (metafile.inputs also lists what was only parsed)
  const inputs = Object.values(metafile.outputs).flatMap((output) =>
    Object.entries(output.inputs).filter(([, { bytesInOutput }]) => bytesInOutput > 0).map(([input]) => input)
  )
  const code = readFileSync(path)

  it("holds the Client and the room's protocol, and no server code (package.json: sideEffects false)", () => {
    expect(inputs).toContain("src/internal/client.ts")
    expect(inputs).toContain("examples/chat-protocol.ts")
    expect(inputs.filter((input) => serverModule.test(input))).toEqual([])
  })

  it("imports nothing of Node", () => {
    expect(Object.keys(metafile.inputs).filter((input) => input.startsWith("node:"))).toEqual([])
    expect(code.toString("utf8")).not.toMatch(/(?:from|import\(|require\()\s*["']node:/)
  })

  it(`stays under 1.5 times its measured size gzipped (${bound} B)`, () => {
    const gzipped = gzipSync(code, { level: 9 }).byteLength
    expect(gzipped).toBeGreaterThan(10_000)
    expect(gzipped).toBeLessThan(bound)
  })
})
