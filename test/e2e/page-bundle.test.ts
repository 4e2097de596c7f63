// The demo page's script: the typed Client and the room's protocol bundled for a browser by
// examples/page.ts. It must hold no server code and nothing of Node, and stay about its measured size
// (BENCHMARKS.md: 427 KB minified, 132 KB gzipped, on 2026-12-04; almost all of it Effect and Schema).
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { gzipSync } from "node:zlib"
import { buildPage } from "../../examples/page.js"

describe("the chat page's bundle (examples/page.ts)", () => {
  const { metafile, path } = buildPage()
  const inputs = Object.keys(metafile.inputs)
  const code = readFileSync(path)

  it("holds no server code: no ws, no ioredis, no @effect/platform-node, no NodeServer or Redis layer", () => {
    const server = inputs.filter((input) =>
      /node_modules\/(ws|ioredis|@effect\/platform-node|undici)\/|src\/internal\/node\/|src\/(NodeServer|BroadcastRedis|node)\.ts$/
        .test(input)
    )
    expect(server).toEqual([])
    // the page's own files and the Client are in it
    expect(inputs).toContain("src/internal/client.ts")
    expect(inputs).toContain("examples/chat-protocol.ts")
  })

  it("imports nothing of Node", () => {
    expect(inputs.filter((input) => input.startsWith("node:"))).toEqual([])
    expect(code.toString("utf8")).not.toMatch(/(?:from|require\()\s*["']node:/)
  })

  it("stays within 1.5 times its measured size (gzipped)", () => {
    const gzipped = gzipSync(code, { level: 9 }).byteLength
    expect(gzipped).toBeGreaterThan(10_000)
    expect(gzipped).toBeLessThan(1.5 * 132_000)
  })
})
