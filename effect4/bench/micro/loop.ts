// bench/micro/loop.ts on Effect 4: the per-connection loop's cost per message, without sockets, next
// to the Effect 4 floor's (a fiber parked on a Queue, woken per message, an Effect.gen handler). A fake
// transport counts sends; messages are pushed one at a time, each after the loop went idle (the
// ping-pong case). A message not handled at once waits for a macrotask: Effect 4 resumes a parked
// fiber from its scheduler (setImmediate), so the floor's figure includes one setImmediate per message,
// which a busy server shares between the connections woken in the same tick. Handlers: Effect.as (the
// production-defaults echo) and Effect.gen reading two services and updating a Ref (the app server's).
// Run on Node >= 22.12 from effect4/: node ../scripts/node22.mjs ../node_modules/tsx/dist/cli.mjs bench/micro/loop.ts
import { Clock, Context, Duration, Effect, Layer, Option, Queue, Ref, Scope } from "effect"
import { Action, Connection, type Message } from "effect-websocket"
import type { Transport } from "../../src/Acceptor.js"
import { ConnectionImpl } from "../../src/internal/connection.js"
import { Inbox } from "../../src/internal/inbox.js"
import { Liveness, Sweeper } from "../../src/internal/liveness.js"
import * as Loop from "../../src/internal/loop.js"
import * as Msg from "../../src/Message.js"

class Counter extends Context.Service<Counter, Ref.Ref<number>>()("bench/Counter") {}
class Format extends Context.Service<Format, { readonly reply: (text: string) => string }>()("bench/Format") {}

const N = 200_000
// Effect 4 resumes a parked fiber from the scheduler (setImmediate), not a microtask: wait a macrotask
const tick = () => new Promise((resolve) => setImmediate(resolve))
let sent = 0
const transport = {
  sendText: () => {
    sent++
    return undefined
  },
  sendBinary: () => undefined,
  sendShared: () => undefined,
  close: () => {},
  ping: () => {},
  pause: () => {},
  resume: () => {},
  bufferedAmount: () => 0,
  awaitDrain: Effect.void,
  terminate: () => {},
  isOpen: () => true,
  isClosed: () => true,
  awaitClosed: Effect.void,
  extensions: ""
} as unknown as Transport
const request = { remoteAddress: Option.none(), headers: {}, url: "/" } as any
const initial = [0, Option.none()] as const

const shapes = {
  "Effect.as": (state: number, message: Message.Message<never>, connection: Connection.Connection) =>
    message._tag === "TextMessage"
      ? Effect.as(Connection.sendText(connection, message.text), Action.continueConnection(state))
      : Effect.succeed(Action.continueConnection(state)),
  "Effect.gen, two services and a Ref": (
    state: number,
    message: Message.Message<never>,
    connection: Connection.Connection
  ) =>
    Effect.gen(function*() {
      const counter = yield* Counter
      const format = yield* Format
      yield* Ref.update(counter, (n) => n + 1)
      if (message._tag === "TextMessage") yield* Connection.sendText(connection, format.reply(message.text))
      return Action.continueConnection(state + 1)
    })
}

const services = Effect.runSync(
  Effect.flatMap(Scope.make(), (scope) =>
    Layer.buildWithScope(
      Layer.mergeAll(Layer.effect(Counter, Ref.make(0)), Layer.succeed(Format, { reply: (t: string) => t })),
      scope
    ))
)

const loopRound = async (onMessage: (typeof shapes)[keyof typeof shapes]) => {
  const inbox = new Inbox<never>(1024, 1 << 20, transport)
  const liveness = new Liveness(transport, inbox)
  const connection = new ConnectionImpl(transport, request, undefined, liveness, inbox, {
    highWaterMark: 1 << 20,
    policy: "suspend",
    sendTimeout: Duration.seconds(10)
  }, "/ws")
  const settings = {
    initTimeout: Duration.seconds(10),
    closeTimeout: Duration.seconds(5),
    sweeper: new Sweeper({
      heartbeat: { interval: Duration.seconds(30), timeout: Duration.seconds(10) },
      idleTimeout: Duration.minutes(5)
    }),
    release: () => {},
    traceMessages: false,
    rateLimit: undefined
  }
  const scope = Effect.runSync(Scope.make())
  const loop = new Loop.Loop(
    { onInit: () => Effect.succeed(initial), onMessage, onClose: () => Effect.void } as any,
    transport,
    inbox,
    liveness,
    connection,
    settings,
    Context.add(services, Scope.Scope, scope),
    scope,
    { remove: () => {}, onEnded: undefined },
    Context.get(services, Clock.Clock)
  )
  loop.start()
  await new Promise((r) => setImmediate(r))
  sent = 0
  const t = performance.now()
  const message = Msg.TextMessage("hello")
  for (let i = 0; i < N; i++) {
    loop.push(message)
    while (sent <= i) await tick()
  }
  const dt = performance.now() - t
  loop.push(Msg.ConnectionClosed(1000, ""))
  return dt * 1000 / N
}

// the floor: one fiber parked on a Queue, an Effect.gen handler per message
const floorRound = async () => {
  const inbox = Effect.runSync(Queue.unbounded<string>())
  const fiber = Effect.runFork(Effect.forever(Effect.gen(function*() {
    const text = yield* Queue.take(inbox)
    yield* Effect.sync(() => transport.sendText(text))
  })))
  await new Promise((r) => setImmediate(r))
  sent = 0
  const t = performance.now()
  for (let i = 0; i < N; i++) {
    Queue.offerUnsafe(inbox, "hello")
    while (sent <= i) await tick()
  }
  const dt = performance.now() - t
  fiber.interruptUnsafe()
  return dt * 1000 / N
}

for (let round = 0; round < 5; round++) {
  const results = [`floor ${(await floorRound()).toFixed(2)}`]
  for (const [name, onMessage] of Object.entries(shapes)) {
    results.push(`loop with ${name} ${(await loopRound(onMessage)).toFixed(2)}`)
  }
  if (round >= 2) console.log(`µs/message, one message per turn: ${results.join(", ")}`)
}
