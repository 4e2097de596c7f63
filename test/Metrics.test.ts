// Connection metrics through effect/Metric: open connections, opened and closed (by code and
// initiator), refused upgrades (by status). Read by their public names, as an exporter would; other
// test files may share the registry, so every check is a difference.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { Action, Testing, Upgrade } from "effect-websocket"

/** The value of the metric called `name` with these tags, from the registry's snapshot, as an exporter sees it. */
const valueOf = (name: string, tags: Record<string, string> = {}) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const pair = pairs.find((pair) =>
      pair.metricKey.name === name &&
      Object.entries(tags).every(([key, value]) =>
        pair.metricKey.tags.some((tag) => tag.key === key && tag.value === value)
      )
    )
    const state = pair?.metricState as { readonly count?: number; readonly value?: number } | undefined
    return state?.count ?? state?.value ?? 0
  })

const read = Effect.all({
  open: valueOf("websocket_connections_open"),
  opened: valueOf("websocket_connections_opened_total"),
  peer1000: valueOf("websocket_connections_closed_total", { code: "1000", initiator: "peer" }),
  server4000: valueOf("websocket_connections_closed_total", { code: "4000", initiator: "server" }),
  rejected503: valueOf("websocket_upgrades_rejected_total", { status: "503" }),
  rejected403: valueOf("websocket_upgrades_rejected_total", { status: "403" })
})

const echoNothing = {
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state: null) => Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}

const route = Upgrade.upgradeWebSocket({
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: () => Effect.orDie(Action.stopConnectionWith(4000, "done")),
  onClose: () => Effect.void
}, { heartbeat: false, idleTimeout: false })

describe("metrics", () => {
  it.scoped("count connections opened, open and closed by code and initiator, and refused upgrades", () =>
    Effect.gen(function*() {
      const before = yield* read
      const peer = yield* Testing.connectTo(route, "/")
      const stopped = yield* Testing.connectTo(route, "/")
      const during = yield* read
      assert.strictEqual(during.opened - before.opened, 2)
      assert.strictEqual(during.open - before.open, 2)

      yield* peer.close(1000)
      yield* peer.closeInfo
      yield* stopped.sendText("stop")
      yield* stopped.closeInfo
      // one connection too many (503), and a handshake from another site (403)
      const refused = (app: typeof route, headers: Record<string, string>) =>
        Effect.flatMap(
          Effect.flip(Testing.connectTo(app, "/", { headers })),
          (error) => Effect.sync(() => ("response" in error ? error.response?.status : undefined))
        )
      const single = Upgrade.upgradeWebSocket(echoNothing, { maxConnections: 1 })
      yield* Testing.connectTo(single, "/")
      assert.strictEqual(yield* refused(single, {}), 503)
      assert.strictEqual(yield* refused(route, { origin: "https://elsewhere.example" }), 403)
      const after = yield* read
      assert.strictEqual(after.open - before.open, 1, "the single route's connection is still open")
      assert.strictEqual(after.peer1000 - before.peer1000, 1)
      assert.strictEqual(after.server4000 - before.server4000, 1)
      assert.strictEqual(after.rejected403 - before.rejected403, 1)
      assert.strictEqual(after.rejected503 - before.rejected503, 1)
    }))
})
