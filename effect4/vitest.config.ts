import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = fileURLToPath(new URL("./src/", import.meta.url))

export default defineConfig({
  resolve: {
    // test files shared with the Effect 3 line are symlinks here (effect4/test/spec/Action.test.ts ->
    // test/spec/Action.test.ts): kept at their link's path, their imports resolve from effect4/ (Effect 4,
    // this line's test/support), not from the root (Effect 3)
    preserveSymlinks: true,
    alias: [
      { find: /^effect-websocket$/, replacement: `${src}index.ts` },
      { find: /^effect-websocket\/(\w+)$/, replacement: `${src}$1.ts` }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000
  }
})
