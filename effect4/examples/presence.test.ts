import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Broadcast, Testing } from "effect-websocket"
import { HttpRouter } from "effect/http"
import { TestClock } from "effect/testing"
import { Members, members } from "./presence.js"

const Routes = HttpRouter.add("GET", "/rooms/:room", members)

/** The next frame the page gets, as JSON. */
const next = (client: Testing.TestClient) =>
  Effect.map(client.receive, (frame) => JSON.parse(frame._tag === "Text" ? frame.text : "null"))

describe("presence", () => {
  it.effect("two servers list each other's members; a killed server's leave within 1.5 ttl", () =>
    Effect.gen(function*() {
      const app = yield* HttpRouter.toHttpEffect(Routes)
      // two servers sharing topics and presence, as on one Redis, on the test's clock
      const backplane = yield* Testing.backplane
      const a = yield* backplane.node({ ttl: 3_000 })
      const b = yield* backplane.node({ ttl: 3_000 })
      const on = (node: Testing.Node) => Effect.provideService(Broadcast.Broadcast, node.broadcast)

      const ann = yield* Testing.connectTo(app, "/rooms/1?user=ann").pipe(on(a))
      assert.strictEqual((yield* next(ann)).type, "presence_state")
      const bob = yield* Testing.connectTo(app, "/rooms/1?user=bob").pipe(on(b))
      // ann's own join, then bob's, reach ann's page as diffs
      assert.deepStrictEqual(Object.keys((yield* next(ann)).joins), ["ann"])
      assert.deepStrictEqual(Object.keys((yield* next(ann)).joins), ["bob"])
      assert.deepStrictEqual(Object.keys(yield* Members.list("room:1").pipe(on(b))).sort(), ["ann", "bob"])

      yield* a.kill // as SIGKILL: a never says goodbye
      yield* TestClock.adjust("4500 millis")
      assert.deepStrictEqual(Object.keys(yield* Members.list("room:1").pipe(on(b))), ["bob"])
      yield* bob.close(1000)
    }))
})
