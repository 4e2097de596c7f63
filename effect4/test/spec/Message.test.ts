import { assert, describe, it } from "@effect/vitest"
import { Equal } from "effect"
import { Message } from "effect-websocket"

const all: ReadonlyArray<Message.Message<number>> = [
  Message.TextMessage("hi"),
  Message.BinaryMessage(new Uint8Array([1, 2])),
  Message.CustomMessage(42),
  Message.ConnectionClosed(4000, "bye")
]

describe("Message", () => {
  describe("constructors", () => {
    it("build tagged values with the given fields", () => {
      assert.deepInclude(Message.TextMessage("hi"), { _tag: "TextMessage", text: "hi" })
      assert.deepInclude(Message.CustomMessage(42), { _tag: "CustomMessage", value: 42 })
      assert.deepInclude(Message.ConnectionClosed(4000, "bye"), { _tag: "ConnectionClosed", code: 4000, reason: "bye" })
      assert.deepInclude(Message.ConnectionClosed(1005), { reason: "" })
      const data = new Uint8Array([1])
      assert.strictEqual(Message.BinaryMessage(data).data, data)
    })

    it("are compared by value", () => {
      assert.isTrue(Equal.equals(Message.TextMessage("a"), Message.TextMessage("a")))
      assert.isFalse(Equal.equals(Message.TextMessage("a"), Message.TextMessage("b")))
      assert.isTrue(Equal.equals(Message.ConnectionClosed(1000, "x"), Message.ConnectionClosed(1000, "x")))
    })
  })

  describe("guards", () => {
    it("each recognises exactly its own kind", () => {
      const guards = [
        Message.isTextMessage,
        Message.isBinaryMessage,
        Message.isCustomMessage,
        Message.isConnectionClosed
      ]
      guards.forEach((guard, i) => {
        assert.deepStrictEqual(all.map((message) => guard(message)), all.map((_, j) => i === j))
      })
    })
  })

  describe("match", () => {
    const cases = {
      TextMessage: (m: Message.TextMessage) => `text ${m.text}`,
      BinaryMessage: (m: Message.BinaryMessage) => `binary ${m.data.length}`,
      CustomMessage: (m: Message.CustomMessage<number>) => `custom ${m.value}`,
      ConnectionClosed: (m: Message.ConnectionClosed) => `closed ${m.code} ${m.reason}`
    }

    it("calls the case of the message's kind (data-first)", () => {
      assert.deepStrictEqual(all.map((message) => Message.match(message, cases)), [
        "text hi",
        "binary 2",
        "custom 42",
        "closed 4000 bye"
      ])
    })

    it("calls the case of the message's kind (data-last)", () => {
      assert.deepStrictEqual(all.map(Message.match(cases)), ["text hi", "binary 2", "custom 42", "closed 4000 bye"])
    })
  })
})
