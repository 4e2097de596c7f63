// A connection's phases and the close-code rules of its end: plain values, no Effect, no sockets.
import { assert, describe, it } from "@effect/vitest"
import * as Lifecycle from "../../../src/internal/core/lifecycle.js"

const { accepted } = Lifecycle
const initializing = Lifecycle.start(accepted)
const open = Lifecycle.initDone(initializing)
const peerClose: Lifecycle.CloseInfo = { code: 1000, reason: "bye", initiator: "peer" }
const violation: Lifecycle.CloseInfo = { code: 1002, reason: "", initiator: "error" }
const heartbeat: Lifecycle.CloseInfo = { code: 1001, reason: "heartbeat timeout", initiator: "timeout" }

describe("core/Lifecycle", () => {
  describe("phases", () => {
    it("Accepted, then Initializing, then Open; each step only from the one before", () => {
      assert.strictEqual(accepted._tag, "Accepted")
      assert.deepStrictEqual(initializing, { _tag: "Initializing", timedOut: false })
      assert.deepStrictEqual(open, { _tag: "Open", initTimedOut: false })
      assert.strictEqual(Lifecycle.start(open), open)
      assert.strictEqual(Lifecycle.initDone(accepted), accepted)
      assert.strictEqual(Lifecycle.initTimedOut(open), open)
    })

    it("turns run while Initializing and Open, never once the end has begun", () => {
      assert.isFalse(Lifecycle.takesTurns(accepted))
      assert.isTrue(Lifecycle.takesTurns(initializing))
      assert.isTrue(Lifecycle.takesTurns(open))
      const closing = Lifecycle.end(open, { _tag: "Decided", info: peerClose })!.phase
      assert.isFalse(Lifecycle.takesTurns(closing))
      assert.isTrue(Lifecycle.isEnding(closing))
      const closed = Lifecycle.closed(closing)
      assert.deepStrictEqual(closed, { _tag: "Closed", info: peerClose })
      assert.isTrue(Lifecycle.isEnding(closed))
      assert.strictEqual(Lifecycle.closed(open), open)
    })

    it("the end runs once: a second end finds the connection ending", () => {
      const closing = Lifecycle.end(open, { _tag: "Failed" })!.phase
      assert.isUndefined(Lifecycle.end(closing, { _tag: "Interrupted" }))
      assert.isUndefined(Lifecycle.end(Lifecycle.closed(closing), { _tag: "Failed" }))
    })
  })

  describe("end", () => {
    it("a close the peer decided: its code, no close frame of ours, no log, onClose runs", () => {
      assert.deepStrictEqual(Lifecycle.end(open, { _tag: "Decided", info: peerClose }), {
        phase: { _tag: "Closing", info: peerClose },
        info: peerClose,
        sendClose: false,
        logFailure: false,
        logClose: false,
        runOnClose: true
      })
    })

    it("a violation or a timeout the transport or a timer saw is logged as news, not as an error", () => {
      for (const info of [violation, heartbeat]) {
        const ending = Lifecycle.end(open, { _tag: "Decided", info })!
        assert.isTrue(ending.logClose)
        assert.isFalse(ending.logFailure)
        assert.isFalse(ending.sendClose)
      }
    })

    it("a failure: 1011, the server closes, the failure is logged as an error", () => {
      const ending = Lifecycle.end(open, { _tag: "Failed" })!
      assert.deepStrictEqual(ending.info, Lifecycle.errorInfo)
      assert.deepStrictEqual([ending.sendClose, ending.logFailure, ending.logClose], [true, true, false])
    })

    it("an interruption is the shutdown's 1001; while onInit runs, onClose does not", () => {
      const ending = Lifecycle.end(open, { _tag: "Interrupted" })!
      assert.deepStrictEqual(ending.info, Lifecycle.shutdownInfo)
      assert.isTrue(ending.sendClose)
      assert.isTrue(ending.runOnClose)
      assert.isFalse(Lifecycle.end(initializing, { _tag: "Interrupted" })!.runOnClose)
      assert.isFalse(Lifecycle.end(accepted, { _tag: "Interrupted" })!.runOnClose)
    })

    it("initTimeout: the interruption says 1011 onInit timed out, logged as news", () => {
      const timedOut = Lifecycle.initTimedOut(initializing)
      const ending = Lifecycle.end(timedOut, { _tag: "Interrupted" })!
      assert.deepStrictEqual(ending.info, Lifecycle.initTimeoutInfo)
      assert.isTrue(ending.logClose)
      assert.isFalse(ending.runOnClose)
    })

    it("initTimeout as onInit completes: onInit succeeded, so onClose runs, and the code is still the timeout's", () => {
      const openedLate = Lifecycle.initDone(Lifecycle.initTimedOut(initializing))
      assert.isTrue(Lifecycle.takesTurns(openedLate))
      const ending = Lifecycle.end(openedLate, { _tag: "Interrupted" })!
      assert.deepStrictEqual(ending.info, Lifecycle.initTimeoutInfo)
      assert.isTrue(ending.runOnClose)
    })
  })
})
