// Liveness deadlines on plain numbers: when a ping is due, when a missing pong or silence ends the watch.
import { assert, describe, it } from "@effect/vitest"
import { Deadlines, timing } from "../../../src/internal/core/liveness.js"

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
    it("pings every interval, from one interval after the start; the pong is awaited for the timeout", () => {
      const deadlines = new Deadlines()
      deadlines.start(0, heartbeat)
      assert.strictEqual(deadlines.next(heartbeat), 30_000)
      assert.isUndefined(deadlines.due(29_999, heartbeat))
      assert.strictEqual(deadlines.due(30_000, heartbeat), "ping")
      assert.strictEqual(deadlines.next(heartbeat), 40_000, "the pong is awaited for the timeout")
      deadlines.pong()
      assert.strictEqual(deadlines.next(heartbeat), 60_000, "the next ping: an interval after the last")
      assert.isUndefined(deadlines.due(59_999, heartbeat))
      assert.strictEqual(deadlines.due(60_000, heartbeat), "ping")
      // a sweep that wakes late keeps the schedule
      deadlines.pong()
      assert.strictEqual(deadlines.due(90_080, heartbeat), "ping")
      deadlines.pong()
      assert.strictEqual(deadlines.next(heartbeat), 120_000)
    })

    it("a timeout longer than the interval: no second ping while one awaits its pong", () => {
      const slow = timing({ interval: 10_000, timeout: 15_000 }, undefined)!
      const deadlines = new Deadlines()
      deadlines.start(0, slow)
      assert.strictEqual(deadlines.due(10_000, slow), "ping")
      assert.isUndefined(deadlines.due(20_000, slow), "the pong of the first is still awaited")
      deadlines.pong()
      assert.strictEqual(deadlines.due(22_000, slow), "ping")
      assert.strictEqual(deadlines.due(37_000, slow), "heartbeat")
    })

    it("a peer that goes silent is closed between timeout and interval + timeout after its last pong", () => {
      const deadlines = new Deadlines()
      deadlines.start(0, heartbeat)
      deadlines.due(30_000, heartbeat)
      deadlines.pong()
      // silent from 30 s (its last pong): the next ping at 60 s, closed at 70 s = 30 + interval + timeout
      assert.strictEqual(deadlines.due(60_000, heartbeat), "ping")
      assert.strictEqual(deadlines.next(heartbeat), 70_000)
      assert.strictEqual(deadlines.due(70_000, heartbeat), "heartbeat")
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
      assert.deepStrictEqual(seen, ["10000 ping", "20000 ping", "30000 idle"])
    })
  })
})
