// Micro-benchmark: the per-connection loop's cost per message, without sockets. A fake transport
// counts sends; messages are pushed one at a time, each after the loop went idle (the ping-pong case).
import { Duration, Effect, Option, Runtime, Scope } from "effect"
import { Action, Connection, type Message } from "effect-websocket"
import { ConnectionImpl } from "../../src/internal/connection.js"
import { Inbox } from "../../src/internal/inbox.js"
import { Liveness, Sweeper } from "../../src/internal/liveness.js"
import * as Loop from "../../src/internal/loop.js"
import type { Transport } from "../../src/internal/transport.js"
import * as Msg from "../../src/Message.js"

const N = 200_000
let sent = 0
const transport: Transport = {
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
}
const request = { remoteAddress: Option.none(), headers: {}, url: "/" } as any
const handlers = {
  onInit: () => Effect.succeed(Upgrade_initial),
  onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
    message._tag === "TextMessage"
      ? Effect.as(Connection.sendText(connection, message.text), Action.continueConnection(state))
      : Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
}
const Upgrade_initial = [null, Option.none()] as const
for (let round = 0; round < 8; round++) {
  const inbox = new Inbox<never>(64, 1 << 20, transport)
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
    handlers as any,
    transport,
    inbox,
    liveness,
    connection,
    settings,
    Runtime.provideService(Runtime.defaultRuntime, Scope.Scope, scope),
    scope,
    { remove: () => {}, onEnded: undefined },
    Effect.runSync(Effect.clock)
  )
  loop.start()
  await new Promise((r) => setImmediate(r))
  sent = 0
  const t = performance.now()
  const message = Msg.TextMessage("hello")
  for (let i = 0; i < N; i++) {
    loop.push(message)
    while (sent <= i) await null
  }
  const dt = performance.now() - t
  loop.push(Msg.ConnectionClosed(1000, ""))
  console.log(`loop, one message per turn: ${(dt * 1000 / N).toFixed(2)} µs/message`)
}
