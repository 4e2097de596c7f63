/**
 * DESIGN.md's semantics, one test each, written once and run on every transport.
 */
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Queue, Ref, Stream } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"
import type { CloseInfo } from "../../src/Connection.js"
import { collected } from "./gc.js"
import { type Client, type Harness, makeRecorder } from "./harness.js"

const hop = Effect.callback<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const describeMessage = (message: Message.Message<unknown>): string => {
  switch (message._tag) {
    case "TextMessage":
      return `text:${message.text}`
    case "BinaryMessage":
      return `binary:${Array.from(message.data).join(",")}`
    case "CustomMessage":
      return `custom:${String(message.value)}`
    case "ConnectionClosed":
      return `closed:${message.code}:${message.reason}`
  }
}

/** Records every message and onClose; echoes text as text and binary as binary. */
const recording = Effect.gen(function*() {
  const recorder = yield* makeRecorder
  const closes = yield* Ref.make<ReadonlyArray<{ state: number; info: CloseInfo }>>([])
  const closedOnce = yield* Deferred.make<{ state: number; info: CloseInfo }>()
  const onClose = (state: number, info: CloseInfo) =>
    Effect.andThen(
      Ref.update(closes, (all) => [...all, { state, info }]),
      Deferred.succeed(closedOnce, { state, info })
    )
  /** Waits until the route returned, then asserts onClose ran exactly once and returns it. */
  const closedExactlyOnce = (client: Client) =>
    Effect.gen(function*() {
      yield* Deferred.await(closedOnce)
      yield* client.serverDone
      const all = yield* Ref.get(closes)
      assert.strictEqual(all.length, 1, "onClose runs exactly once")
      return all[0]
    })
  return { recorder, onClose, closedExactlyOnce }
})

const expectClose = (client: Client, code: number, reason?: string) =>
  Effect.gen(function*() {
    const closed = yield* client.closed
    assert.strictEqual(closed.code, code)
    if (reason !== undefined) assert.strictEqual(closed.reason, reason)
  })

export const semanticsSuite = (harness: Harness) =>
  describe(`semantics on the ${harness.name} transport`, () => {
    describe("one loop per connection", () => {
      harness.test("handles one message at a time, in arrival order, threading the state", () =>
        Effect.gen(function*() {
          const running = yield* Ref.make(0)
          const maxRunning = yield* Ref.make(0)
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(0)),
            onMessage: (count, message, connection) =>
              Effect.gen(function*() {
                if (message._tag !== "TextMessage") return Action.continueConnection(count)
                const now = yield* Ref.updateAndGet(running, (n) => n + 1)
                yield* Ref.update(maxRunning, (max) => Math.max(max, now))
                yield* hop
                yield* hop
                yield* Connection.sendText(connection, `${count}:${message.text}`)
                yield* Ref.update(running, (n) => n - 1)
                return Action.continueConnection(count + 1)
              }),
            onClose: () => Effect.void
          })
          for (let i = 0; i < 50; i++) yield* client.sendText(`m${i}`)
          for (let i = 0; i < 50; i++) {
            assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: `${i}:m${i}` })
          }
          assert.strictEqual(yield* Ref.get(maxRunning), 1, "no two handlers run at once")
        }))

      harness.test("keeps frames that arrive while onInit runs, in order", () =>
        Effect.gen(function*() {
          const release = yield* Deferred.make<void>()
          const { recorder } = yield* recording
          const client = yield* harness.connect({
            onInit: () => Effect.as(Deferred.await(release), Upgrade.initial(null)),
            onMessage: (state, message, connection) =>
              Effect.gen(function*() {
                yield* recorder.add(describeMessage(message))
                if (message._tag === "TextMessage") yield* Connection.sendText(connection, message.text)
                return Action.continueConnection(state)
              }),
            onClose: () => Effect.void
          })
          yield* client.sendText("a")
          yield* client.sendBinary(new Uint8Array([1]))
          yield* client.sendText("b")
          yield* client.sendText("c")
          yield* client.settle
          assert.deepStrictEqual(yield* recorder.lines, [], "nothing is handled before onInit completes")
          yield* Deferred.succeed(release, undefined)
          for (const text of ["a", "b", "c"]) assert.deepStrictEqual(yield* client.next, { _tag: "Text", text })
          assert.deepStrictEqual(yield* recorder.lines, ["text:a", "binary:1", "text:b", "text:c"])
        }))
    })

    describe("selectors", () => {
      harness.test("merges the selector stream from onInit with client frames", () =>
        Effect.gen(function*() {
          const values = yield* Queue.unbounded<string>()
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initialWithSelector(null, Stream.fromQueue(values))),
            onMessage: (state, message, connection) =>
              Effect.as(Connection.sendText(connection, describeMessage(message)), Action.continueConnection(state)),
            onClose: () => Effect.void
          })
          yield* Queue.offer(values, "one")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "custom:one" })
          yield* client.sendText("hello")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "text:hello" })
          yield* Queue.offer(values, "two")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "custom:two" })
        }))

      harness.test("continueConnection keeps the stream; continueConnectionWithSelector replaces it and closes its scope", () =>
        Effect.gen(function*() {
          const first = yield* Queue.unbounded<string>()
          const second = yield* Queue.unbounded<string>()
          const firstClosed = yield* Deferred.make<void>()
          const firstStream = Stream.fromQueue(first).pipe(Stream.ensuring(Deferred.succeed(firstClosed, undefined)))
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initialWithSelector("first", firstStream)),
            onMessage: (state, message: Message.Message<string>, connection) =>
              Effect.gen(function*() {
                yield* Connection.sendText(connection, `${state}/${describeMessage(message)}`)
                if (message._tag === "TextMessage" && message.text === "switch") {
                  return Action.continueConnectionWithSelector("second", Stream.fromQueue(second))
                }
                return Action.continueConnection(state)
              }),
            onClose: () => Effect.void
          })
          yield* client.sendText("stay")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "first/text:stay" })
          yield* Queue.offer(first, "a")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "first/custom:a" })
          yield* client.sendText("switch")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "first/text:switch" })
          yield* Deferred.await(firstClosed)
          yield* Queue.offer(first, "lost")
          yield* Queue.offer(second, "b")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "second/custom:b" })
          assert.strictEqual(yield* Queue.size(second), 0)
          assert.strictEqual(yield* Queue.size(first), 1, "the old stream no longer pulls")
        }))

      harness.test("the stream ends with the connection, before onClose", () =>
        Effect.gen(function*() {
          const ended = yield* Deferred.make<void>()
          const { closedExactlyOnce, onClose } = yield* recording
          const endedBeforeOnClose = yield* Ref.make(false)
          const client = yield* harness.connect({
            onInit: () =>
              Effect.succeed(
                Upgrade.initialWithSelector(
                  0,
                  Stream.concat(Stream.make("started"), Stream.never).pipe(
                    Stream.ensuring(Deferred.succeed(ended, undefined))
                  )
                )
              ),
            onMessage: (state, message, connection) =>
              Effect.as(Connection.sendText(connection, describeMessage(message)), Action.continueConnection(state)),
            onClose: (state, info) =>
              Effect.andThen(
                Effect.flatMap(Deferred.isDone(ended), (done) => Ref.set(endedBeforeOnClose, done)),
                onClose(state, info)
              )
          })
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "custom:started" })
          assert.isFalse(yield* Deferred.isDone(ended))
          yield* client.close(1000, "done")
          yield* closedExactlyOnce(client)
          assert.isTrue(yield* Ref.get(endedBeforeOnClose))
        }))

      harness.test("a failing selector stream closes with 1011 and runs onClose", () =>
        Effect.gen(function*() {
          const { closedExactlyOnce, onClose } = yield* recording
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initialWithSelector(7, Stream.fail("stream broke"))),
            onMessage: (state) => Effect.succeed(Action.continueConnection(state)),
            onClose
          })
          yield* expectClose(client, 1011)
          const { info, state } = yield* closedExactlyOnce(client)
          assert.deepStrictEqual(info, { code: 1011, reason: "internal error", initiator: "error" })
          assert.strictEqual(state, 7)
          assert.isTrue((yield* client.logs).some((line) => line.includes("stream broke")), "the cause is logged")
        }))
    })

    describe("ConnectionClosed", () => {
      harness.test("is delivered once with the peer's code and reason, then onClose runs", () =>
        Effect.gen(function*() {
          const { closedExactlyOnce, onClose, recorder } = yield* recording
          const sendAfterClose = yield* Deferred.make<string>()
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(0)),
            onMessage: (count, message, connection) =>
              Effect.gen(function*() {
                yield* recorder.add(describeMessage(message))
                if (message._tag === "ConnectionClosed") {
                  const error = yield* Effect.flip(Connection.sendText(connection, "too late"))
                  yield* Deferred.succeed(sendAfterClose, error.reason)
                  return Action.continueConnection(count + 100)
                }
                return Action.continueConnection(count + 1)
              }),
            onClose: (count, info) => Effect.andThen(recorder.add("onClose"), onClose(count, info))
          })
          yield* client.sendText("x")
          yield* client.sendText("y")
          yield* client.close(4001, "bye now")
          yield* expectClose(client, 4001, "bye now")
          const { info, state } = yield* closedExactlyOnce(client)
          assert.deepStrictEqual(info, { code: 4001, reason: "bye now", initiator: "peer" })
          assert.strictEqual(state, 2, "the Action returned for ConnectionClosed is ignored")
          assert.deepStrictEqual(yield* recorder.lines, ["text:x", "text:y", "closed:4001:bye now", "onClose"])
          assert.strictEqual(yield* Deferred.await(sendAfterClose), "SocketClosed")
        }))

      harness.test("carries 1005 when the peer's close frame has no code", () =>
        Effect.gen(function*() {
          const { closedExactlyOnce, onClose, recorder } = yield* recording
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(0)),
            onMessage: (count, message) =>
              Effect.as(recorder.add(describeMessage(message)), Action.continueConnection(count)),
            onClose
          })
          yield* client.close()
          const { info } = yield* closedExactlyOnce(client)
          assert.deepStrictEqual(info, { code: 1005, reason: "", initiator: "peer" })
          assert.deepStrictEqual(yield* recorder.lines, ["closed:1005:"])
        }))

      harness.test("carries 1006 when the transport is lost without a close frame", () =>
        Effect.gen(function*() {
          const { closedExactlyOnce, onClose, recorder } = yield* recording
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(0)),
            onMessage: (count, message) =>
              Effect.as(recorder.add(describeMessage(message)), Action.continueConnection(count + 1)),
            onClose
          })
          yield* client.sendText("last words")
          yield* client.settle
          yield* client.drop
          const { info, state } = yield* closedExactlyOnce(client)
          assert.deepStrictEqual(info, { code: 1006, reason: "", initiator: "peer" })
          assert.strictEqual(state, 1)
          assert.deepStrictEqual(yield* recorder.lines, ["text:last words", "closed:1006:"])
        }))
    })

    describe("a lost connection", () => {
      harness.test("lets the busy handler finish, then delivers ConnectionClosed(1006); it is not a shutdown", () =>
        Effect.gen(function*() {
          const { closedExactlyOnce, onClose, recorder } = yield* recording
          const busy = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(0)),
            onMessage: (count, message) =>
              Effect.gen(function*() {
                yield* recorder.add(describeMessage(message))
                if (message._tag === "TextMessage") {
                  yield* Deferred.succeed(busy, undefined)
                  yield* Deferred.await(release)
                  yield* recorder.add("handler finished")
                }
                return Action.continueConnection(count + 1)
              }),
            onClose
          })
          yield* client.sendText("slow")
          yield* Deferred.await(busy)
          yield* client.drop
          yield* client.settle
          yield* Deferred.succeed(release, undefined)
          const { info, state } = yield* closedExactlyOnce(client)
          assert.deepStrictEqual(info, { code: 1006, reason: "", initiator: "peer" })
          assert.strictEqual(state, 1)
          assert.deepStrictEqual(yield* recorder.lines, ["text:slow", "handler finished", "closed:1006:"])
        }))
    })

    describe("the connection's own Scope", () => {
      harness.test("what onInit acquires lives as long as the connection and is released after onClose", () =>
        Effect.gen(function*() {
          const { recorder } = yield* recording
          const client = yield* harness.connect({
            onInit: (connection) =>
              Effect.gen(function*() {
                yield* Effect.acquireRelease(recorder.add("acquired"), () => recorder.add("released"))
                yield* Connection.sendText(connection, "ready")
                return Upgrade.initial(0)
              }),
            onMessage: (count, message, connection) =>
              message._tag === "TextMessage"
                ? Effect.as(Connection.sendText(connection, `${count}`), Action.continueConnection(count + 1))
                : Effect.succeed(Action.continueConnection(count)),
            onClose: () => recorder.add("onClose")
          })
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "ready" })
          // the route has long returned: the resource is still held while the connection is open
          yield* client.settle
          yield* client.sendText("still there?")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "0" })
          assert.deepStrictEqual(yield* recorder.lines, ["acquired"])
          yield* client.close(1000)
          yield* client.serverDone
          assert.deepStrictEqual(yield* recorder.lines, ["acquired", "onClose", "released"])
        }))

      harness.test("onClose gets the connection, the one onInit and onMessage got", () =>
        Effect.gen(function*() {
          const ids = yield* Ref.make<ReadonlyArray<string>>([])
          const record = (connection: Connection.Connection) => Ref.update(ids, (all) => [...all, connection.id])
          const client = yield* harness.connect({
            onInit: (connection) => Effect.as(record(connection), Upgrade.initial(null)),
            onMessage: (_state, _message, connection) => Effect.as(record(connection), Action.stopConnection()),
            onClose: (_state, _info, connection) => record(connection)
          })
          yield* client.sendText("stop")
          yield* client.serverDone
          const seen = yield* Ref.get(ids)
          assert.strictEqual(seen.length, 3)
          assert.strictEqual(new Set(seen).size, 1, "the same connection each time")
        }))
    })

    describe("fibers", () => {
      harness.test("an idle connection keeps no fiber: the one that handled a message is let go", () =>
        Effect.gen(function*() {
          const handlers: Array<WeakRef<object>> = []
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(0)),
            onMessage: (count, message, connection) =>
              Effect.withFiber<Action.Action<number, never>, Connection.SendError>((fiber) => {
                handlers.push(new WeakRef(fiber))
                return message._tag === "TextMessage"
                  ? Effect.as(Connection.sendText(connection, `${count}`), Action.continueConnection(count + 1))
                  : Effect.succeed(Action.continueConnection(count))
              }),
            onClose: () => Effect.void
          })
          yield* client.sendText("a")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "0" })
          yield* client.settle
          assert.isTrue(yield* Effect.promise(() => collected(handlers[0])), "the handler's fiber is collected")
          // and the connection goes on, in order
          yield* client.sendText("b")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "1" })
        }))

      harness.test("Effect.forkChild in a handler lives for its turn; Effect.forkScoped for the connection", () =>
        Effect.gen(function*() {
          const interrupted = yield* Deferred.make<void>()
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(null)),
            onMessage: (state, message, connection) =>
              Effect.gen(function*() {
                if (message._tag !== "TextMessage") return Action.continueConnection(state)
                yield* Effect.forkChild(
                  Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined))
                )
                // lets the child start, so that its interruption shows
                yield* Effect.yieldNow
                // runs after the turn is over
                yield* Effect.forkScoped(Effect.andThen(
                  Effect.repeat(Effect.yieldNow, { times: 10 }),
                  Connection.sendText(connection, "scoped")
                ))
                yield* Connection.sendText(connection, "handled")
                return Action.continueConnection(state)
              }),
            onClose: () => Effect.void
          })
          yield* client.sendText("go")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "handled" })
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "scoped" }, "the scoped fiber lives on")
          // the turn ended, and its child with it (real time: the memory harness runs on the TestClock)
          const ended = Effect.callback<void>((resume) => {
            const timer = setTimeout(() => resume(Effect.die(new Error("the forked fiber still runs"))), 2000)
            return Effect.sync(() => clearTimeout(timer))
          })
          yield* Effect.raceFirst(Deferred.await(interrupted), ended)
        }))
    })

    describe("onClose on every path", () => {
      const stopping = (action: (count: number) => Effect.Effect<Action.Action<number, never>, unknown>) =>
        Effect.gen(function*() {
          const { closedExactlyOnce, onClose } = yield* recording
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(0)),
            onMessage: (count, message) =>
              message._tag === "TextMessage" && message.text === "stop"
                ? action(count)
                : Effect.succeed(Action.continueConnection(count + 1)),
            onClose
          })
          yield* client.sendText("one")
          yield* client.sendText("two")
          yield* client.sendText("stop")
          return { client, closed: yield* client.closed, result: yield* closedExactlyOnce(client) }
        })

      harness.test("stopConnection closes with 1000", () =>
        Effect.gen(function*() {
          const { closed, result } = yield* stopping(() => Effect.succeed(Action.stopConnection()))
          assert.strictEqual(closed.code, 1000)
          assert.deepStrictEqual(result, { state: 2, info: { code: 1000, reason: "", initiator: "server" } })
        }))

      harness.test("stopConnectionWith closes with the given code and reason", () =>
        Effect.gen(function*() {
          const { closed, result } = yield* stopping(() => Action.stopConnectionWith(4321, "go away"))
          assert.deepStrictEqual(closed, { code: 4321, reason: "go away" })
          assert.deepStrictEqual(result, { state: 2, info: { code: 4321, reason: "go away", initiator: "server" } })
        }))

      harness.test("an invalid close code is a typed failure: 1011, never a thrown exception", () =>
        Effect.gen(function*() {
          const { client, closed, result } = yield* stopping(() => Action.stopConnectionWith(1005))
          assert.strictEqual(closed.code, 1011)
          assert.deepStrictEqual(result, {
            state: 2,
            info: { code: 1011, reason: "internal error", initiator: "error" }
          })
          assert.isTrue((yield* client.logs).some((line) => line.includes("CloseError")))
        }))

      harness.test("a handler failure closes with 1011 and logs the cause", () =>
        Effect.gen(function*() {
          const { client, closed, result } = yield* stopping(() => Effect.fail("handler gave up"))
          assert.strictEqual(closed.code, 1011)
          assert.deepStrictEqual(result, {
            state: 2,
            info: { code: 1011, reason: "internal error", initiator: "error" }
          })
          assert.isTrue((yield* client.logs).some((line) => line.includes("handler gave up")))
        }))

      harness.test("a handler defect closes with 1011 and logs the cause", () =>
        Effect.gen(function*() {
          const { client, closed, result } = yield* stopping(() => Effect.die(new Error("handler crashed")))
          assert.strictEqual(closed.code, 1011)
          assert.deepStrictEqual(result, {
            state: 2,
            info: { code: 1011, reason: "internal error", initiator: "error" }
          })
          assert.isTrue((yield* client.logs).some((line) => line.includes("handler crashed")))
        }))

      harness.test("interrupting the server side closes with 1001 (shutdown)", () =>
        Effect.gen(function*() {
          const { closedExactlyOnce, onClose } = yield* recording
          const busy = yield* Deferred.make<void>()
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(0)),
            onMessage: (count, message) =>
              message._tag === "TextMessage" && message.text === "block"
                ? Effect.andThen(Deferred.succeed(busy, undefined), Effect.never)
                : Effect.succeed(Action.continueConnection(count + 1)),
            onClose
          })
          yield* client.sendText("one")
          yield* client.sendText("block")
          yield* Deferred.await(busy)
          yield* Effect.forkChild(client.interruptServer)
          yield* expectClose(client, 1001)
          const { info, state } = yield* closedExactlyOnce(client)
          assert.deepStrictEqual(info, { code: 1001, reason: "server shutting down", initiator: "shutdown" })
          assert.strictEqual(state, 1)
        }))
    })

    describe("frames and sends", () => {
      harness.test("text stays text and binary stays binary, both ways", () =>
        Effect.gen(function*() {
          const { recorder } = yield* recording
          const client = yield* harness.connect({
            onInit: () => Effect.succeed(Upgrade.initial(null)),
            onMessage: (state, message, connection) =>
              Effect.gen(function*() {
                yield* recorder.add(describeMessage(message))
                if (message._tag === "TextMessage") yield* Connection.sendText(connection, message.text)
                if (message._tag === "BinaryMessage") yield* Connection.sendBinary(connection, message.data)
                return Action.continueConnection(state)
              }),
            onClose: () => Effect.void
          })
          yield* client.sendText("héllo ✓")
          yield* client.sendBinary(new TextEncoder().encode("abc"))
          yield* client.sendBinary(new Uint8Array([0, 255, 128]))
          yield* client.sendText("")
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "héllo ✓" })
          assert.deepStrictEqual(yield* client.next, { _tag: "Binary", data: new Uint8Array([97, 98, 99]) })
          assert.deepStrictEqual(yield* client.next, { _tag: "Binary", data: new Uint8Array([0, 255, 128]) })
          assert.deepStrictEqual(yield* client.next, { _tag: "Text", text: "" })
          assert.deepStrictEqual(yield* recorder.lines, [
            "text:héllo ✓",
            "binary:97,98,99",
            "binary:0,255,128",
            "text:"
          ])
        }))

      harness.test("a send after the connection is over fails with SocketClosed and does not hang", () =>
        Effect.gen(function*() {
          const { closedExactlyOnce, onClose } = yield* recording
          const saved = yield* Deferred.make<Connection.Connection>()
          const client = yield* harness.connect({
            onInit: (connection) => Effect.as(Deferred.succeed(saved, connection), Upgrade.initial(0)),
            onMessage: (count) => Effect.succeed(Action.continueConnection(count)),
            onClose
          })
          const connection = yield* Deferred.await(saved)
          yield* client.close(1000)
          yield* closedExactlyOnce(client)
          const text = yield* Effect.flip(Connection.sendText(connection, "anyone?"))
          const binary = yield* Effect.flip(Connection.sendBinary(connection, new Uint8Array(1)))
          assert.strictEqual(text._tag, "SendError")
          assert.strictEqual(text.reason, "SocketClosed")
          assert.strictEqual(binary.reason, "SocketClosed")
        }))
    })
  })
