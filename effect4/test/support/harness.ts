/**
 * One client interface over two transports, so the semantics suite runs unchanged on the in-memory
 * transport (no socket, TestClock) and on a real Node server (port 0, a real `ws` client).
 */
import { it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Queue, Ref, Scope } from "effect"
import type { Connection, Upgrade } from "effect-websocket"
import type * as Net from "node:net"
import WebSocket from "ws"
import type { Closed, Frame } from "../../src/Testing.js"
import * as Testing from "../../src/Testing.js"
import * as UpgradeModule from "../../src/Upgrade.js"
import { captureLogs } from "./logs.js"
import { route, serve, within } from "./server.js"

export type { Frame }

/** The client end of one connection, as a test drives it. */
export interface Client {
  readonly sendText: (text: string) => Effect.Effect<void>
  readonly sendBinary: (data: Uint8Array) => Effect.Effect<void>
  /** Starts the closing handshake from the client. */
  readonly close: (code?: number, reason?: string) => Effect.Effect<void>
  /** Loses the transport without a close frame. */
  readonly drop: Effect.Effect<void>
  /** The next frame from the server (a `Close` frame comes last). */
  readonly next: Effect.Effect<Frame>
  /** The close the client saw: the server's close frame, the echo of its own, or 1006. */
  readonly closed: Effect.Effect<Closed>
  /** Interrupts the server side: the route's fiber (memory) or the whole server's scope (Node). */
  readonly interruptServer: Effect.Effect<void>
  /** Succeeds when the route handling this connection has returned. */
  readonly serverDone: Effect.Effect<void>
  /** Lines the server side logged. */
  readonly logs: Effect.Effect<ReadonlyArray<string>>
  /** Lets frames already sent reach the server (a no-op in memory). */
  readonly settle: Effect.Effect<void>
}

export interface Harness {
  readonly name: string
  readonly test: (name: string, self: () => Effect.Effect<void, unknown, Scope.Scope>) => void
  readonly connect: <State, Custom, E>(
    handlers: Upgrade.Handlers<State, Custom, E, Scope.Scope>,
    options?: Upgrade.Options
  ) => Effect.Effect<Client, never, Scope.Scope>
}

const upgrade = <State, Custom, E>(
  handlers: Upgrade.Handlers<State, Custom, E, Scope.Scope>,
  options: Upgrade.Options | undefined
) =>
  options === undefined ? UpgradeModule.upgradeWebSocket(handlers) : UpgradeModule.upgradeWebSocket(handlers, options)

export const memory: Harness = {
  name: "memory",
  test: (name, self) => it.effect(name, self),
  connect: (handlers, options) =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const scope = yield* Scope.fork(yield* Effect.scope, "sequential")
      const client = yield* Testing.connect(handlers, { upgrade: options }).pipe(
        Effect.provide(captureLogs(lines)),
        Scope.provide(scope),
        Effect.orDie
      )
      return {
        sendText: (text) => Effect.orDie(client.sendText(text)),
        sendBinary: (data) => Effect.orDie(client.sendBinary(data)),
        close: (code, reason) => Effect.orDie(client.close(code, reason)),
        drop: client.drop,
        next: Effect.orDie(client.receive),
        closed: Effect.orDie(client.closed),
        interruptServer: Scope.close(scope, Exit.void),
        serverDone: Effect.orDie(Effect.asVoid(client.closeInfo)),
        logs: Effect.sync(() => [...lines]),
        settle: Effect.yieldNow
      } satisfies Client
    })
}

export const node: Harness = {
  name: "node",
  test: (name, self) => it.live(name, self),
  connect: <State, Custom, E>(handlers: Upgrade.Handlers<State, Custom, E, Scope.Scope>, options?: Upgrade.Options) =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      // the route returns once the 101 is out: the server side is done when onClose has run
      const observed = {
        ...handlers,
        onClose: (state: State, info: Connection.CloseInfo, connection: Connection.Connection) =>
          Effect.ensuring(handlers.onClose(state, info, connection), Deferred.succeed(done, undefined))
      }
      const server = yield* serve(route("/ws", upgrade(observed, options)))
      const port = server.port
      const frames = yield* Queue.unbounded<Frame>()
      const closed = yield* Deferred.make<Closed>()
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        Queue.offerUnsafe(
          frames,
          isBinary ? { _tag: "Binary", data: new Uint8Array(data) } : { _tag: "Text", text: data.toString("utf8") }
        )
      })
      ws.on("close", (code: number, reason: Buffer) => {
        Deferred.doneUnsafe(closed, Exit.succeed({ code, reason: reason.toString("utf8") }))
      })
      ws.on("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => ws.terminate()))
      yield* within(
        "open",
        Effect.callback<void>((resume) => {
          ws.once("open", () => resume(Effect.void))
        })
      )
      const whenOpen = (f: () => void) => Effect.sync(() => ws.readyState === WebSocket.OPEN && f())
      return {
        sendText: (text) => whenOpen(() => ws.send(text)),
        sendBinary: (data) => whenOpen(() => ws.send(data, { binary: true })),
        close: (code, reason) => whenOpen(() => ws.close(code, reason)),
        // an abortive close (TCP RST), the most abrupt loss: the platform then interrupts the route
        drop: Effect.sync(() => (ws as unknown as { _socket: Net.Socket })._socket.resetAndDestroy()),
        next: within("next frame", Queue.take(frames)),
        closed: within("close", Deferred.await(closed)),
        interruptServer: server.shutdown,
        // and a moment more, in which a second onClose would show
        serverDone: within("server done", Effect.andThen(Deferred.await(done), Effect.sleep(Duration.millis(50)))),
        logs: Effect.sync(() => [...server.logs]),
        settle: Effect.sleep(Duration.millis(50))
      } satisfies Client
    })
}

/** Records what the handlers saw, in order, for assertions. */
export const makeRecorder = Effect.map(Ref.make<ReadonlyArray<string>>([]), (ref) => ({
  add: (line: string) => Ref.update(ref, (lines) => [...lines, line]),
  lines: Ref.get(ref)
}))
