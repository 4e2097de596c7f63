// Liveness deadlines on plain numbers: when a ping is due, when a missing pong or silence ends the watch.
import { assert, describe, it } from "@effect/vitest"
import { Deadlines, timing } from "../../src/internal/core/liveness.js"

const heartbeat = timing({ interval: 30_000, timeout: 10_000 }, undefined)!
const idleOnly = timing(undefined, 60_000)!

describe("core/Liveness", () => {
  describe("timing", () => {
    it("none when both timers are off; the sweep gap is a tenth of the shortest timer, at most 100 ms", () => {
      assert.isUndefined(timing(undefined, undefined))
      assert.strictEqual(heartbeat.gap, 100)
      assert.strictEqual(timing({ interval: 500, timeout: 200 }, undefined)!.gap, 20)
      assert.strictEqual(idleOnly.idle, 60_000)
      assert.isFalse(idleOnly.heartbeat)
      assert.strictEqual(heartbeat.idle, Number.POSITIVE_INFINITY)
    })
  })

  describe("heartbeat", () => {
    it("pings one interval after the start, then one interval after each heartbeat completed", () => {
      const deadlines = new Deadlines()
      deadlines.start(0, heartbeat)
      assert.strictEqual(deadlines.next(heartbeat), 30_000)
      assert.isUndefined(deadlines.due(29_999, heartbeat))
      assert.strictEqual(deadlines.due(30_000, heartbeat), "ping")
      assert.strictEqual(deadlines.next(heartbeat), 40_000, "the pong is awaited for the timeout")
      deadlines.pong()
      assert.isUndefined(deadlines.due(40_000, heartbeat))
      assert.strictEqual(deadlines.next(heartbeat), 70_000, "the next ping: an interval after the heartbeat's end")
      assert.strictEqual(deadlines.due(70_000, heartbeat), "ping")
    })

    it("a pong that does not come within the timeout is due as a heartbeat timeout", () => {
      const deadlines = new Deadlines()
      deadlines.start(0, heartbeat)
      assert.strictEqual(deadlines.due(30_000, heartbeat), "ping")
      assert.isUndefined(deadlines.due(39_999, heartbeat))
      assert.strictEqual(deadlines.due(40_000, heartbeat), "heartbeat")
    })

    it("data frames do not replace pongs: a peer that talks but never pongs still times out", () => {
      const deadlines = new Deadlines()
      deadlines.start(0, heartbeat)
      deadlines.due(30_000, heartbeat)
      deadlines.touch(35_000)
      assert.strictEqual(deadlines.due(40_000, heartbeat), "heartbeat")
    })
  })

  describe("idle", () => {
    it("no data frame for the idle time is due; every frame moves the deadline", () => {
      const deadlines = new Deadlines()
      deadlines.start(0, idleOnly)
      assert.strictEqual(deadlines.next(idleOnly), 60_000)
      deadlines.touch(50_000)
      assert.isUndefined(deadlines.due(60_000, idleOnly))
      assert.strictEqual(deadlines.next(idleOnly), 110_000)
      assert.strictEqual(deadlines.due(110_000, idleOnly), "idle")
    })

    it("pongs do not count as activity", () => {
      const both = timing({ interval: 10_000, timeout: 1_000 }, 30_000)!
      const deadlines = new Deadlines()
      deadlines.start(0, both)
      const seen: Array<string | undefined> = []
      for (let now = 0; now <= 30_000; now += 1_000) {
        const due = deadlines.due(now, both)
        if (due !== undefined) seen.push(`${now} ${due}`)
        if (due === "ping") deadlines.pong()
      }
      assert.deepStrictEqual(seen, ["10000 ping", "21000 ping", "30000 idle"])
    })
  })
})
