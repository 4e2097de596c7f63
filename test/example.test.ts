// `npm start`: the echo chat example as a user runs it, in its own process.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { openWs } from "./support/client.js"
import { within } from "./support/server.js"

const root = fileURLToPath(new URL("..", import.meta.url))

const startExample = Effect.acquireRelease(
  Effect.gen(function*() {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/server.ts"], {
      cwd: root,
      env: { ...process.env, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const url = yield* Deferred.make<string>()
    const exited = yield* Deferred.make<number | null>()
    const collect = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /ws:\/\/localhost:(\d+)\/chat\?user=/.exec(output)
      if (match) Deferred.unsafeDone(url, Exit.succeed(`ws://127.0.0.1:${match[1]}/chat`))
    }
    child.stdout!.on("data", collect)
    child.stderr!.on("data", collect)
    child.on("exit", (code) => Deferred.unsafeDone(exited, Exit.succeed(code)))
    return {
      child,
      url: within("the example prints its URL", Deferred.await(url), 30),
      exited: within("the example exits", Deferred.await(exited), 10),
      output: () => output
    }
  }),
  ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
)

describe("npm start (examples/server.ts)", () => {
  it.scopedLive("prints its URL, echoes with the user's name, and stops cleanly on Ctrl-C", () =>
    Effect.gen(function*() {
      const example = yield* startExample
      const url = yield* example.url

      const alice = yield* openWs(`${url}?user=Alice`)
      alice.ws.send("hello")
      assert.strictEqual(yield* alice.next, "Alice: hello")

      const anonymous = yield* openWs(url)
      anonymous.ws.send("hi")
      assert.strictEqual(yield* anonymous.next, "Anonymous: hi")
      anonymous.ws.close(1000)
      assert.strictEqual((yield* anonymous.closed).code, 1000)

      example.child.kill("SIGINT")
      assert.strictEqual((yield* alice.closed).code, 1001, "open connections are told the server is going away")
      assert.strictEqual(yield* example.exited, 0, example.output())
    }), 60_000)
})
