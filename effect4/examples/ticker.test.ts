import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Broadcast, Testing } from "effect-websocket"
import { TestClock } from "effect/testing"
import { feed, ticker } from "./ticker.js"

describe("ticker", () => {
  it.effect("each client gets the numbered prices above its threshold, one a second of TestClock", () =>
    Effect.gen(function*() {
      const cheap = yield* Testing.connectTo(ticker, "/?above=0")
      const dear = yield* Testing.connectTo(ticker, "/?above=100")
      yield* Effect.forkScoped(feed(Stream.make(50, 150, 120)))
      yield* TestClock.adjust("3 seconds")
      const ticks = (client: Testing.TestClient, n: number) =>
        Effect.forEach(
          Array.from({ length: n }),
          () => Effect.map(client.receive, (frame) => JSON.parse(frame._tag === "Text" ? frame.text : "null"))
        )
      const all = yield* ticks(cheap, 3)
      assert.deepStrictEqual(all.map((tick) => [tick.price, tick.seq]), [[50, 1], [150, 2], [120, 3]])
      const filtered = yield* ticks(dear, 2)
      // the numbers show that one was left out for this client, by its own filter
      assert.deepStrictEqual(filtered.map((tick) => [tick.price, tick.seq]), [[150, 2], [120, 3]])
      assert.strictEqual(new Set([...all, ...filtered].map((tick) => tick.stream)).size, 1)
    }).pipe(Effect.provide(Broadcast.layer())))
})
