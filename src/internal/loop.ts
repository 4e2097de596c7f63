/**
 * What happens to one message: the per-connection loop. No sockets here; the loop talks to a
 * `Transport` and reads an `Inbox`.
 */
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Action from "../Action.js"
import type { CloseInfo, Connection } from "../Connection.js"
import * as Message from "../Message.js"
import type { Handlers } from "../Upgrade.js"
import * as Close from "./close.js"
import type { Inbox, Item } from "./inbox.js"
import * as Liveness from "./liveness.js"
import type { Transport } from "./transport.js"

const shutdownInfo: CloseInfo = { code: Close.GoingAway, reason: "server shutting down", initiator: "shutdown" }
const errorInfo: CloseInfo = { code: Close.InternalError, reason: "internal error", initiator: "error" }
const initTimeoutInfo: CloseInfo = { code: Close.InternalError, reason: "onInit timed out", initiator: "timeout" }

export interface Settings {
  readonly initTimeout: Duration.Duration
  /** The route's liveness timers. */
  readonly sweeper: Liveness.Sweeper
}

/**
 * One connection from `onInit` to `onClose`: `run` never fails, interrupting it closes the connection
 * with 1001 (shutdown), and `onClose` runs exactly once if `onInit` succeeded. `info` holds how the
 * connection ended once `run` is done.
 */
export class Loop<State, Custom, E, R> {
  state: State | undefined = undefined
  info: CloseInfo | undefined = undefined
  hasState = false
  selector: Fiber.RuntimeFiber<void> | undefined = undefined

  constructor(
    readonly handlers: Handlers<State, Custom, E, R>,
    readonly transport: Transport,
    readonly inbox: Inbox<Custom>,
    readonly connection: Connection,
    readonly settings: Settings
  ) {
    // assigned here, not as a field: fields are initialised before the parameter properties
    this.next = Effect.flatMap(inbox.take, (batch) => {
      this.batch = batch
      this.index = 0
      return this.step()
    })
  }

  startSelector(stream: Stream.Stream<Custom, E, R>): Effect.Effect<void, never, R> {
    const inbox = this.inbox
    return Stream.runForEach(stream, (value) => inbox.offer(Message.CustomMessage(value))).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : Effect.sync(() => inbox.push({ _tag: "SelectorFailed", cause }))
      ),
      Effect.fork,
      Effect.map((fiber) => {
        this.selector = fiber
      })
    )
  }

  replaceSelector(stream: Stream.Stream<Custom, E, R>): Effect.Effect<void, never, R> {
    return this.stopSelector.pipe(Effect.zipRight(this.startSelector(stream)))
  }

  readonly stopSelector: Effect.Effect<void> = Effect.suspend(() => {
    const fiber = this.selector
    if (fiber === undefined) return Effect.void
    this.selector = undefined
    return Fiber.interrupt(fiber)
  })

  readonly run: Effect.Effect<void, never, R> = Effect.uninterruptible(
    // interruptible explicitly, not restored: the caller may start the loop uninterruptibly, so that an
    // interruption that comes before the loop begins still finds it there to finish
    Effect.flatMap(Effect.exit(Effect.interruptible(Effect.suspend(() => this.body))), (exit) => this.finish(exit))
  )

  /** Runs until the connection ends; succeeds with how it ended. */
  private readonly body: Effect.Effect<CloseInfo, E, R> = Effect.gen(this, function*() {
    const init = yield* Effect.timeout(this.handlers.onInit(this.connection), this.settings.initTimeout).pipe(
      Effect.catchTag("TimeoutException", () => Effect.succeed(undefined))
    )
    if (init === undefined) {
      this.transport.close(initTimeoutInfo.code, initTimeoutInfo.reason)
      return initTimeoutInfo
    }
    const [initial, selector] = init
    this.state = initial
    this.hasState = true
    if (Option.isSome(selector)) yield* this.startSelector(selector.value)
    yield* this.settings.sweeper.add(this.inbox.liveness, this.transport, this.inbox)
    return yield* this.next
  })

  /**
   * The hot path, written without a generator: take everything buffered, then run each item's handler
   * in order. The batch being worked through lives on the loop, so the continuation after each handler
   * is one function built once, not a closure per message.
   */
  private batch: ReadonlyArray<Item<Custom>> = []
  private index = 0

  private readonly next: Effect.Effect<CloseInfo, E, R>

  private step(): Effect.Effect<CloseInfo, E, R> {
    while (this.index < this.batch.length) {
      const item = this.batch[this.index++]
      switch (item._tag) {
        case "ConnectionClosed":
          return this.handlers.onMessage(this.state as State, item, this.connection).pipe(
            Effect.catchAllCause((cause) =>
              Effect.logError("effect-websocket: onMessage failed on ConnectionClosed", cause)
            ),
            Effect.as({ code: item.code, reason: item.reason, initiator: "peer" } satisfies CloseInfo)
          )
        case "Closing":
          return Effect.succeed(item.info)
        case "SelectorFailed":
          return Effect.failCause(item.cause as Cause.Cause<E>)
        default:
          return Effect.flatMap(this.handlers.onMessage(this.state as State, item, this.connection), this.apply)
      }
    }
    this.batch = []
    return this.next
  }

  private readonly apply = (action: Action.Action<State, Custom, E, R>): Effect.Effect<CloseInfo, E, R> => {
    switch (action._tag) {
      case "Continue":
        this.state = action.state
        return this.step()
      case "ContinueWithSelector":
        this.state = action.state
        return Effect.zipRight(this.replaceSelector(action.selector), Effect.suspend(() => this.step()))
      case "Stop":
        this.transport.close(action.code, action.reason)
        return Effect.succeed({ code: action.code, reason: action.reason, initiator: "server" } satisfies CloseInfo)
    }
  }

  /** Ends the connection whichever way `run` exited, then runs `onClose` once. */
  finish(exit: Exit.Exit<CloseInfo, E>): Effect.Effect<void, never, R> {
    return Effect.gen(this, function*() {
      let info: CloseInfo
      if (Exit.isSuccess(exit)) {
        info = exit.value
      } else if (Cause.isInterruptedOnly(exit.cause)) {
        info = shutdownInfo
        this.transport.close(info.code, info.reason)
      } else {
        yield* Effect.logError("effect-websocket: handler failed, closing with 1011", exit.cause)
        info = errorInfo
        this.transport.close(info.code, info.reason)
      }
      this.settings.sweeper.remove(this.inbox.liveness)
      yield* this.stopSelector
      this.inbox.close()
      this.info = info
      if (this.hasState) {
        yield* this.handlers.onClose(this.state as State, info, this.connection).pipe(
          Effect.catchAllCause((cause) => Effect.logError("effect-websocket: onClose failed", cause))
        )
      }
    })
  }
}
