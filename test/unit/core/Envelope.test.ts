// The envelope of requests, replies and heartbeats on plain strings, and the table of requests waiting
// for their reply: what is an envelope and what is a plain message, frames built and read back.
import { assert, describe, it } from "@effect/vitest"
import * as Envelope from "../../../src/internal/core/envelope.js"

describe("core/Envelope", () => {
  describe("parse", () => {
    it("reads a heartbeat", () => {
      assert.deepStrictEqual(Envelope.parse(`{"@heartbeat":7}`), { _tag: "Heartbeat", id: 7 })
      assert.deepStrictEqual(Envelope.parse(`{"@heartbeat":0}`), { _tag: "Heartbeat", id: 0 })
    })

    it("reads a request, with its payload or without one", () => {
      assert.deepStrictEqual(Envelope.parse(`{"@request":"join","@ref":3,"payload":{"room":"a"}}`), {
        _tag: "Request",
        name: "join",
        ref: 3,
        payload: { room: "a" }
      })
      assert.deepStrictEqual(Envelope.parse(`{"@request":"leave","@ref":4}`), {
        _tag: "Request",
        name: "leave",
        ref: 4,
        payload: undefined
      })
      assert.deepStrictEqual(Envelope.parse(`{"@request":"count","@ref":5,"payload":null}`), {
        _tag: "Request",
        name: "count",
        ref: 5,
        payload: null
      })
    })

    it("reads a reply's success, with its value or without one", () => {
      assert.deepStrictEqual(Envelope.parse(`{"@reply":3,"ok":{"members":2}}`), {
        _tag: "Reply",
        ref: 3,
        ok: true,
        value: { members: 2 }
      })
      assert.deepStrictEqual(Envelope.parse(`{"@reply":3}`), { _tag: "Reply", ref: 3, ok: true, value: undefined })
      assert.deepStrictEqual(Envelope.parse(`{"@reply":3,"ok":false}`), {
        _tag: "Reply",
        ref: 3,
        ok: true,
        value: false
      })
    })

    it("reads a reply's failure, even a null one", () => {
      assert.deepStrictEqual(Envelope.parse(`{"@reply":3,"error":{"refused":"x"}}`), {
        _tag: "Reply",
        ref: 3,
        ok: false,
        value: { refused: "x" }
      })
      assert.deepStrictEqual(Envelope.parse(`{"@reply":3,"error":null}`), {
        _tag: "Reply",
        ref: 3,
        ok: false,
        value: null
      })
    })

    it("is not fooled by text that is not JSON", () => {
      for (
        const text of [
          `{"@heartbeat":`,
          `{"@heartbeat":1}}`,
          `{"@reply":1,}`,
          `{"@request":"join","@ref":1,"payload":}`,
          `{"@`,
          `{"@heartbeat":1} trailing`
        ]
      ) {
        assert.isUndefined(Envelope.parse(text), text)
      }
    })

    it("takes only objects that start with {\"@", () => {
      for (
        const text of [
          `[{"@heartbeat":1}]`,
          `[1,2]`,
          `"{\\"@heartbeat\\":1}"`,
          `null`,
          `42`,
          ` {"@heartbeat":1}`,
          `{ "@heartbeat":1}`,
          `{"heartbeat":1}`,
          `{"type":"say","@heartbeat":1}`,
          ``
        ]
      ) {
        assert.isFalse(Envelope.mayBeEnvelope(text) && Envelope.parse(text) !== undefined, text)
        assert.isUndefined(Envelope.parse(text), text)
      }
    })

    it("refuses keys of the wrong type", () => {
      for (
        const text of [
          `{"@heartbeat":"7"}`,
          `{"@heartbeat":null}`,
          `{"@heartbeat":true}`,
          `{"@heartbeat":[1]}`,
          `{"@reply":"3","ok":1}`,
          `{"@reply":null}`,
          `{"@reply":{"ref":3}}`,
          `{"@request":5,"@ref":1}`,
          `{"@request":null,"@ref":1}`,
          `{"@request":"join","@ref":"1"}`,
          `{"@request":"join"}`,
          `{"@request":"join","@ref":null}`
        ]
      ) {
        assert.isUndefined(Envelope.parse(text), text)
      }
    })

    it("refuses refs that are negative, fractional or beyond a safe integer", () => {
      for (
        const text of [
          `{"@heartbeat":-1}`,
          `{"@heartbeat":1.5}`,
          `{"@reply":-3,"ok":1}`,
          `{"@reply":0.1}`,
          `{"@reply":1e300}`,
          `{"@reply":9007199254740993}`,
          `{"@request":"join","@ref":-1}`,
          `{"@request":"join","@ref":2.5}`
        ]
      ) {
        assert.isUndefined(Envelope.parse(text), text)
      }
      assert.deepStrictEqual(Envelope.parse(`{"@reply":9007199254740991}`), {
        _tag: "Reply",
        ref: Number.MAX_SAFE_INTEGER,
        ok: true,
        value: undefined
      })
    })

    it("leaves a plain message that starts with {\"@ to the protocol", () => {
      for (
        const text of [
          `{"@type":"chat","text":"hi"}`,
          `{"@":1}`,
          `{"@ref":1,"payload":2}`,
          `{"@heartbeats":1}`,
          `{"@Reply":1}`,
          `{}`
        ]
      ) {
        assert.isUndefined(Envelope.parse(text), text)
      }
      assert.isTrue(Envelope.mayBeEnvelope(`{"@type":"chat"}`), "the quick test lets it through to parse")
    })

    it("does not read an inherited key as an envelope's", () => {
      // JSON.parse keeps "__proto__" as an own key; nothing under it is the envelope's
      assert.isUndefined(Envelope.parse(`{"@x":1,"__proto__":{"@heartbeat":1}}`))
      assert.isUndefined(Envelope.parse(`{"@x":1,"__proto__":{"@reply":1}}`))
    })
  })

  describe("building frames", () => {
    it("a heartbeat reads back as itself", () => {
      assert.strictEqual(Envelope.heartbeat(7), `{"@heartbeat":7}`)
      assert.deepStrictEqual(Envelope.parse(Envelope.heartbeat(12)), { _tag: "Heartbeat", id: 12 })
    })

    it("a request reads back with its name, ref and payload", () => {
      const frame = Envelope.request("join", 3, JSON.stringify({ room: "lobby" }))
      assert.strictEqual(frame, `{"@request":"join","@ref":3,"payload":{"room":"lobby"}}`)
      assert.deepStrictEqual(Envelope.parse(frame), {
        _tag: "Request",
        name: "join",
        ref: 3,
        payload: { room: "lobby" }
      })
    })

    it("a request without a payload leaves the key out", () => {
      const frame = Envelope.request("leave", 1, undefined)
      assert.strictEqual(frame, `{"@request":"leave","@ref":1}`)
      assert.deepStrictEqual(Envelope.parse(frame), { _tag: "Request", name: "leave", ref: 1, payload: undefined })
    })

    it("a request's name is escaped as JSON", () => {
      const name = "we\"ird\n\\name 🎉"
      const frame = Envelope.request(name, 2, "0")
      assert.deepStrictEqual(Envelope.parse(frame), { _tag: "Request", name, ref: 2, payload: 0 })
    })

    it("a reply reads back as a success or a failure", () => {
      assert.strictEqual(Envelope.reply(3, true, `{"members":2}`), `{"@reply":3,"ok":{"members":2}}`)
      assert.deepStrictEqual(Envelope.parse(Envelope.reply(3, true, `{"members":2}`)), {
        _tag: "Reply",
        ref: 3,
        ok: true,
        value: { members: 2 }
      })
      assert.strictEqual(Envelope.reply(4, false, `"nope"`), `{"@reply":4,"error":"nope"}`)
      assert.deepStrictEqual(Envelope.parse(Envelope.reply(4, false, `"nope"`)), {
        _tag: "Reply",
        ref: 4,
        ok: false,
        value: "nope"
      })
    })

    it("a reply without a value stays a success or a failure", () => {
      assert.strictEqual(Envelope.reply(5, true, undefined), `{"@reply":5}`)
      assert.deepStrictEqual(Envelope.parse(Envelope.reply(5, true, undefined)), {
        _tag: "Reply",
        ref: 5,
        ok: true,
        value: undefined
      })
      const failed = Envelope.parse(Envelope.reply(6, false, undefined))
      assert.strictEqual(failed?._tag === "Reply" && failed.ok, false, "a failure without a value is still a failure")
    })

    it("every frame passes the quick test", () => {
      for (
        const frame of [
          Envelope.heartbeat(1),
          Envelope.request("a", 1, undefined),
          Envelope.reply(1, true, undefined),
          Envelope.reply(1, false, "1")
        ]
      ) {
        assert.isTrue(Envelope.mayBeEnvelope(frame), frame)
      }
    })
  })

  describe("Pending", () => {
    it("add gives refs counting up from 1", () => {
      const pending = new Envelope.Pending<string>()
      assert.deepStrictEqual([pending.add("a"), pending.add("b"), pending.add("c")], [1, 2, 3])
      assert.strictEqual(pending.size, 3)
    })

    it("take gives the entry once and forgets it; an unknown ref gives nothing", () => {
      const pending = new Envelope.Pending<string>()
      const a = pending.add("a")
      const b = pending.add("b")
      assert.strictEqual(pending.take(b), "b")
      assert.isUndefined(pending.take(b), "a second reply to the same ref matches nothing")
      assert.isUndefined(pending.take(99))
      assert.strictEqual(pending.size, 1)
      assert.strictEqual(pending.take(a), "a")
      assert.strictEqual(pending.size, 0)
    })

    it("remove forgets a ref, so that a late reply matches nothing", () => {
      const pending = new Envelope.Pending<string>()
      const a = pending.add("a")
      const b = pending.add("b")
      pending.remove(a)
      pending.remove(42)
      assert.isUndefined(pending.take(a))
      assert.strictEqual(pending.take(b), "b")
    })

    it("removeWhere removes and returns only what the predicate picks", () => {
      const pending = new Envelope.Pending<{ readonly on: number; readonly name: string }>()
      const refs = [
        pending.add({ on: 1, name: "a" }),
        pending.add({ on: 2, name: "b" }),
        pending.add({ on: 1, name: "c" })
      ]
      const removed = pending.removeWhere((entry) => entry.on === 1)
      assert.deepStrictEqual(removed.map((entry) => entry.name), ["a", "c"])
      assert.strictEqual(pending.size, 1)
      assert.isUndefined(pending.take(refs[0]))
      assert.deepStrictEqual(pending.take(refs[1]), { on: 2, name: "b" })
      assert.deepStrictEqual(pending.removeWhere(() => true), [])
    })

    it("drain returns every entry and empties the table", () => {
      const pending = new Envelope.Pending<string>()
      const a = pending.add("a")
      pending.add("b")
      assert.deepStrictEqual(pending.drain(), ["a", "b"])
      assert.strictEqual(pending.size, 0)
      assert.isUndefined(pending.take(a))
      assert.deepStrictEqual(pending.drain(), [])
    })

    it("never gives a ref twice, even after its entries are gone", () => {
      const pending = new Envelope.Pending<string>()
      const a = pending.add("a")
      pending.take(a)
      const b = pending.add("b")
      pending.drain()
      const c = pending.add("c")
      assert.deepStrictEqual([a, b, c], [1, 2, 3])
      assert.isUndefined(pending.take(a), "a late reply to a forgotten ref does not reach a newer request")
    })
  })
})
