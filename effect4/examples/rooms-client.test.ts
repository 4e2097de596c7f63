import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { HttpRouter } from "effect/http"
import { serve } from "../test/support/server.js"
import { visit } from "./rooms-client.js"
import { rooms } from "./rooms-server.js"

describe("a typed round trip (examples/rooms-*.ts)", () => {
  it.live("the client joins, is refused the staff room, and hears what it said, over a real socket", () =>
    Effect.gen(function*() {
      const server = yield* serve(HttpRouter.add("GET", "/rooms", rooms))
      const { refused, said } = yield* visit(`ws://127.0.0.1:${server.port}/rooms`).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(refused, { refused: "staff only" })
      // onConnect joined the lobby before the client said it was open
      assert.deepStrictEqual(said, Option.some({ type: "said" as const, room: "lobby", text: "hello" }))
    }).pipe(Effect.scoped))
})
