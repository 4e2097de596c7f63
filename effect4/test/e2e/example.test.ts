// `npm start` (`npm start -w effect-websocket-effect4` from the root): the echo chat example as a user
// runs it, in its own process.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { openWs } from "../support/client.js"
import { startProgram } from "../support/program.js"

const startExample = startProgram("examples/server.ts", {
  env: { PORT: "0", HOST: "127.0.0.1" },
  ready: (output) => {
    const match = /ws:\/\/localhost:(\d+)\/chat\?user=/.exec(output)
    return match === null ? undefined : `ws://127.0.0.1:${match[1]}/chat`
  },
  readySeconds: 30
})

describe("npm start (examples/server.ts)", () => {
  it.live(
    "prints its URL, echoes with the user's name, and stops cleanly on Ctrl-C",
    () =>
      Effect.gen(function*() {
        const example = yield* startExample
        const url = yield* example.ready

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
        // Effect 4's NodeRuntime.runMain ends a program interrupted by SIGINT or SIGTERM with 130 (its
        // defaultTeardown: an interruption without an exit code of its own), where Effect 3's exited 0.
        // The shutdown is still the clean one: the connections above were closed with 1001 first.
        assert.strictEqual(yield* example.exited, 130, example.output())
      }),
    60_000
  )
})
