/**
 * What happens to one message: the per-connection loop. No sockets here; the loop talks to a
 * `Transport` and reads an `Inbox`.
 *
 * The loop keeps a fiber only while it has work. A turn is one fiber: it handles everything the inbox
 * holds, one message at a time, and ends when the inbox is empty; the next message starts the next
 * turn, from the transport's callback, so an idle connection parks no fiber at all. At most one turn
 * runs at a time, which keeps the order and the one-at-a-time rule. `onInit` is the first turn, and
 * the end of the connection (`onClose`, the closing handshake) runs in the turn that saw it end.
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Incoming, Sink } from "../Acceptor.js"
import type * as Action from "../Action.js"
import type { CloseInfo } from "../Connection.js"
import * as Message from "../Message.js"
import type { Handlers } from "../Upgrade.js"
import type { Open } from "./acceptor.js"
import type { ConnectionImpl } from "./connection.js"
import * as Close from "./core/close.js"
import * as Lifecycle from "./core/lifecycle.js"
import { RateLimit, type RateSettings } from "./core/rate.js"
import { Refusal } from "./errors.js"
import type { Inbox, Item } from "./inbox.js"
import type * as Liveness from "./liveness.js"
import * as Metrics from "./metrics.js"
import * as Trace from "./trace.js"
import { closeAndReport, type Transport } from "./transport.js"

/** What a turn's work ends with when the connection goes on. */
const drained: Effect.Effect<undefined> = Effect.succeed(undefined)
const rateExceeded: CloseInfo = { code: Close.PolicyViolation, reason: "rate limit exceeded", initiator: "error" }

/** What a route gives all its connections' loops. */
export interface Settings {
  readonly initTimeout: Duration.Duration
  /** How long the server waits for the peer's closing handshake before dropping the connection. */
  readonly closeTimeout: Duration.Duration
  /** The route's liveness timers. */
  readonly sweeper: Liveness.Sweeper
  /** Gives back what the route's limits counted for the connection, once it is over. */
  readonly release: (connection: ConnectionImpl) => void
  /** Whether each handled message gets a span (`traceMessages`). */
  readonly traceMessages: boolean
  /** The route's `rateLimit`, if any. */
  readonly rateLimit: RateSettings | undefined
}

/** What owns a connection: told once when it is over (an `AcceptorImpl`). */
export interface Owner {
  readonly remove: (loop: Open) => void
  readonly onEnded: ((transport: Transport, info: CloseInfo) => void) | undefined
}

/**
 * One connection from `onInit` to `onClose`, and the `Sink` its transport delivers to. `start` runs
 * `onInit`; `shutdown` closes the connection with 1001 and waits until it is over. `onClose` runs
 * exactly once if `onInit` succeeded, and `ended` is told how the connection ended once its transport
 * is closed.
 *
 * An idle connection is this object and what it refers to, so what a connection may never use (the
 * `onInit` turn, a shutdown, a waiter) is built when it is needed; what every message uses is built
 * once here.
 */
export class Loop<State, Custom, E, R> implements Sink {
  private state: State | undefined = undefined
  private selector: Fiber.Fiber<void> | undefined = undefined
  /** Whether a turn runs; `running` is its fiber once `runFork` has returned it. */
  private busy = false
  private running: Fiber.Fiber<void> | undefined = undefined
  /** The connection's phase (core/lifecycle.ts): every decision about its life reads and sets it. */
  private phase: Lifecycle.Phase = Lifecycle.accepted
  /** Who waits for the connection to be over (`Closed`). */
  private waiters: Array<(effect: Effect.Effect<void>) => void> | undefined = undefined
  private readonly runFork: (effect: Effect.Effect<void, never, R | Scope.Scope>) => Fiber.Fiber<void>
  /**
   * When the handler running now started, in milliseconds on `clock`; -1 at the start of a batch.
   * Within a batch, the time one handler ended is the time the next one starts: one clock read a message.
   */
  private started = -1

  /**
   * @param context the route's context (the handlers' services, the request), with `scope`, the
   *   connection's log annotations and parent span
   * @param scope the connection's own `Scope`, closed after `onClose`
   * @param owner told once, when the connection is over
   * @param clock the connection's clock, which times the handlers
   */
  constructor(
    private readonly handlers: Handlers<State, Custom, E, R>,
    private readonly transport: Transport,
    private readonly inbox: Inbox<Custom>,
    private readonly liveness: Liveness.Liveness,
    readonly connection: ConnectionImpl,
    readonly settings: Settings,
    context: Context.Context<R | Scope.Scope>,
    private readonly scope: Scope.Closeable,
    private readonly owner: Owner,
    private readonly clock: Clock.Clock
  ) {
    this.runFork = Effect.runForkWith(context)
    this.rate = settings.rateLimit === undefined
      ? undefined
      : new RateLimit(settings.rateLimit, clock.currentTimeMillisUnsafe())
  }

  /** The peer's rate limit, and the timer that resumes reading once a paused peer is within it. */
  private readonly rate: RateLimit | undefined
  private rateTimer: Fiber.Fiber<void> | undefined = undefined

  /** From the transport: a message (of `bytes` on the wire, when the transport knows) or the end. */
  push(item: Incoming, bytes?: number): void {
    if (item._tag === "TextMessage" || item._tag === "BinaryMessage") {
      this.liveness.touch()
      const isBinary = item._tag === "BinaryMessage"
      const size = bytes ?? (isBinary ? item.data.byteLength : Metrics.textBytes(item.text))
      Metrics.received(isBinary, size)
      this.connection.trace?.received(size)
      if (this.rate !== undefined && !this.withinRate(this.rate, size)) return
      const tap = this.connection.tap
      if (tap === undefined || isBinary || !tap(item.text)) this.inbox.push(item, size)
    } else {
      this.inbox.push(item)
    }
  }

  /** Whether a message of `size` bytes goes to the inbox, after the rate limit had its say. */
  private withinRate(rate: RateLimit, size: number): boolean {
    const now = this.clock.currentTimeMillisUnsafe()
    switch (rate.settings.onExceeded) {
      case "close":
        if (rate.admit(now, size)) return true
        // once closing, what the peer still sends is dropped, not counted again
        if (this.transport.isOpen()) {
          Metrics.limited("close")
          closeAndReport(this.transport, this.inbox, rateExceeded)
        }
        return false
      case "drop":
        if (rate.admit(now, size)) return true
        Metrics.limited("drop")
        return false
      case "pause": {
        const wait = rate.charge(now, size)
        if (wait > 0 && this.rateTimer === undefined) {
          Metrics.limited("pause")
          this.inbox.throttle()
          this.resumeAfter(wait)
        }
        return true
      }
    }
  }

  /** Reads from the peer again once it is within its rate limit, `wait` milliseconds from now or later. */
  private resumeAfter(wait: number): void {
    this.rateTimer = Effect.runFork(
      Effect.andThen(this.clock.sleep(Duration.millis(wait)), Effect.sync(() => this.rateElapsed()))
    )
  }

  private rateElapsed(): void {
    this.rateTimer = undefined
    if (Lifecycle.isEnding(this.phase)) return
    const wait = this.rate!.wait(this.clock.currentTimeMillisUnsafe())
    if (wait > 0) this.resumeAfter(wait)
    else this.inbox.unthrottle()
  }

  /** From the transport: the peer answered a ping. */
  pong(): void {
    this.liveness.pong()
  }

  /**
   * Runs `onInit`, then whatever arrived meanwhile. The `initTimeout` deadline is a fiber only when
   * `onInit` suspends: most complete at once, on this stack.
   */
  start(): void {
    this.phase = Lifecycle.start(this.phase)
    this.begin(this.turn(this.init()))
    if (this.phase._tag === "Initializing") this.initDeadline = this.runFork(this.initTimer())
  }

  /** `onInit`'s deadline, while `onInit` runs suspended. */
  private initDeadline: Fiber.Fiber<void> | undefined = undefined

  /** Sleeps `initTimeout`, then interrupts the turn still in `onInit`: it closes with 1011. */
  private initTimer(): Effect.Effect<void> {
    return Effect.andThen(
      Effect.sleep(this.settings.initTimeout),
      Effect.sync(() => {
        this.initDeadline = undefined
        const turn = this.running
        if (this.phase._tag !== "Initializing" || turn === undefined) return
        this.phase = Lifecycle.initTimedOut(this.phase)
        Metrics.timedOut("init")
        turn.interruptUnsafe()
      })
    )
  }

  private stopInitDeadline(): void {
    const deadline = this.initDeadline
    this.initDeadline = undefined
    deadline?.interruptUnsafe()
  }

  /** Starts a turn. It runs at once, on this stack, and may be over before `runFork` returns. */
  private begin(turn: Effect.Effect<void, never, R>): void {
    this.busy = true
    const fiber = this.runFork(turn)
    if (this.busy) this.running = fiber
  }

  /** Closes the connection with 1001 (unless it is already ending) and waits until it is over. */
  shutdown(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (Lifecycle.isEnding(this.phase)) return this.awaitDone()
      const fiber = this.running
      // a running turn is interrupted, and ends the connection itself
      if (fiber !== undefined) return Effect.andThen(Fiber.interrupt(fiber), this.shutdown())
      this.begin(this.finish(interrupted))
      return this.awaitDone()
    })
  }

  /** Succeeds once the connection is over. */
  private awaitDone(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.phase._tag === "Closed") return resume(Effect.void)
      ;(this.waiters ??= []).push(resume)
    })
  }

  /** Called by the inbox when an item arrives while no turn runs (`whenNonEmpty`). */
  wake(): void {
    if (this.busy || !Lifecycle.takesTurns(this.phase)) return
    this.begin(this.turn(this.handleAll()))
  }

  /**
   * A turn: `work` runs interruptibly, then either the connection goes on (the inbox is empty: the
   * turn ends and the next push starts another) or it ends here.
   */
  private turn(work: Effect.Effect<CloseInfo | undefined, E, R>): Effect.Effect<void, never, R> {
    return Effect.uninterruptible(
      Effect.flatMap(
        Effect.exit(Effect.interruptible(work)),
        (exit) => Exit.isSuccess(exit) && exit.value === undefined ? this.idle() : this.finish(exit)
      )
    )
  }

  /** Ends the turn, unless something arrived since the last look. */
  private idle(): Effect.Effect<void, never, R> {
    const goesOn = Lifecycle.takesTurns(this.phase)
    if (goesOn && !this.inbox.isEmpty()) return this.turn(this.handleAll())
    this.busy = false
    this.running = undefined
    if (goesOn) this.inbox.whenNonEmpty(this)
    return Effect.void
  }

  private init(): Effect.Effect<CloseInfo | undefined, E, R> {
    return Effect.gen({ self: this }, function*() {
      const started = Trace.now(this.clock)
      const [initial, selector] = yield* this.handlers.onInit(this.connection)
      Metrics.handled("onInit", Trace.now(this.clock) - started)
      this.stopInitDeadline()
      this.state = initial
      this.phase = Lifecycle.initDone(this.phase)
      if (Option.isSome(selector)) yield* this.startSelector(selector.value)
      yield* this.settings.sweeper.add(this.liveness)
      return yield* this.handleAll()
    })
  }

  private startSelector(stream: Stream.Stream<Custom, E, R>): Effect.Effect<void, never, R> {
    const inbox = this.inbox
    return Stream.runForEach(stream, (value) => inbox.offer(Message.CustomMessage(value))).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.void
          : Effect.sync(() => inbox.push({ _tag: "SelectorFailed", cause }))
      ),
      // not a child of the turn, which ends when the inbox is empty: the loop stops it
      Effect.forkDetach,
      Effect.map((fiber) => {
        this.selector = fiber
      })
    )
  }

  private stopSelector(): Effect.Effect<void> {
    const fiber = this.selector
    if (fiber === undefined) return Effect.void
    this.selector = undefined
    return Fiber.interrupt(fiber)
  }

  /**
   * The hot path, written without a generator: take everything buffered, then run each item's handler
   * in order; `undefined` once the inbox is empty. The batch being worked through lives on the loop,
   * so the continuation after each handler is one function built once, not a closure per message.
   * A turn's effects are built per turn, not kept: an idle connection holds none of them.
   */
  private batch: ReadonlyArray<Item<Custom>> = []
  private index = 0

  private handleAll(): Effect.Effect<CloseInfo | undefined, E, R> {
    return Effect.suspend(() => {
      this.batch = this.inbox.takeAll()
      this.index = 0
      this.started = -1
      return this.step()
    })
  }

  private step(): Effect.Effect<CloseInfo | undefined, E, R> {
    while (this.index < this.batch.length) {
      const item = this.batch[this.index++]
      switch (item._tag) {
        case "ConnectionClosed":
          return this.handlers.onMessage(this.state as State, item, this.connection).pipe(
            Effect.catchCause((cause) =>
              Effect.logError("effect-websocket: onMessage failed on ConnectionClosed", cause)
            ),
            Effect.as({ code: item.code, reason: item.reason, initiator: "peer" } satisfies CloseInfo)
          )
        case "Closing":
          return Effect.succeed(item.info)
        case "SelectorFailed":
          return Effect.failCause(item.cause as Cause.Cause<E>)
        default: {
          if (this.started < 0) this.started = Trace.now(this.clock)
          const handled = this.handlers.onMessage(this.state as State, item, this.connection)
          return Effect.flatMap(
            this.settings.traceMessages
              ? Effect.withSpan(handled, Trace.messageSpan, {
                attributes: { [Trace.attributes.messageKind]: kindOf(item._tag) }
              })
              : handled,
            this.applyAction ??= (action) => this.apply(action)
          )
        }
      }
    }
    this.batch = []
    this.inbox.handled()
    return this.inbox.isEmpty() ? drained : this.handleAll()
  }

  /** `apply` as the continuation of every handler, made at the first message: an idle connection has none. */
  private applyAction:
    | ((action: Action.Action<State, Custom, E, R>) => Effect.Effect<CloseInfo | undefined, E, R>)
    | undefined = undefined

  private apply(action: Action.Action<State, Custom, E, R>): Effect.Effect<CloseInfo | undefined, E, R> {
    const now = Trace.now(this.clock)
    Metrics.handled("onMessage", now - this.started)
    this.started = now
    switch (action._tag) {
      case "Continue":
        this.state = action.state
        return this.step()
      case "ContinueWithSelector":
        this.state = action.state
        return Effect.andThen(
          Effect.andThen(Effect.suspend(() => this.stopSelector()), this.startSelector(action.selector)),
          Effect.suspend(() => {
            // the selector's restart is not the next handler's time
            this.started = -1
            return this.step()
          })
        )
      case "Stop":
        this.transport.close(action.code, action.reason)
        return Effect.succeed({ code: action.code, reason: action.reason, initiator: "server" } satisfies CloseInfo)
    }
  }

  /**
   * Ends the connection whichever way the turn exited: `onClose` once, the connection's scope closed,
   * then the closing handshake awaited for at most `closeTimeout`. Runs uninterruptibly.
   */
  private finish(exit: Exit.Exit<CloseInfo | undefined, E>): Effect.Effect<void, never, R> {
    return Effect.gen({ self: this }, function*() {
      const refusal = refusalOf(exit)
      // a refusal is a close the handler decided: its last message, then its close frame
      if (refusal !== undefined && this.transport.isOpen()) {
        if (refusal.last !== undefined) {
          if (typeof refusal.last === "string") this.transport.sendText(refusal.last)
          else this.transport.sendBinary(refusal.last)
        }
        this.transport.close(refusal.code, refusal.reason)
      }
      const ending = Lifecycle.end(
        this.phase,
        refusal === undefined
          ? outcomeOf(exit)
          : { _tag: "Decided", info: { code: refusal.code, reason: refusal.reason, initiator: "server" } }
      )
      // the end runs once: a second end (none is expected) finds the connection ending already
      if (ending === undefined) return
      this.phase = ending.phase
      const info = ending.info
      if (ending.sendClose) this.transport.close(info.code, info.reason)
      if (ending.logFailure && Exit.isFailure(exit)) {
        yield* Effect.logError("effect-websocket: handler failed, closing with 1011", exit.cause)
      }
      if (ending.logClose) {
        yield* Effect.logInfo(`effect-websocket: closing with ${info.code}`).pipe(
          Effect.annotateLogs({ [Trace.annotationCloseCode]: info.code, [Trace.annotationCloseReason]: info.reason })
        )
      }
      this.stopInitDeadline()
      this.rateTimer?.interruptUnsafe()
      this.rateTimer = undefined
      this.connection.end()
      this.settings.sweeper.remove(this.liveness)
      yield* this.stopSelector()
      this.inbox.close()
      if (ending.runOnClose) {
        const started = Trace.now(this.clock)
        yield* this.handlers.onClose(this.state as State, info, this.connection).pipe(
          Effect.catchCause((cause) => Effect.logError("effect-websocket: onClose failed", cause))
        )
        Metrics.handled("onClose", Trace.now(this.clock) - started)
      }
      yield* Scope.close(this.scope, Exit.void)
      yield* awaitClosed(this.transport, this.settings.closeTimeout)
      this.connection.trace?.end(info, ending.logFailure ? exit : Exit.void)
      this.busy = false
      this.running = undefined
      this.settings.release(this.connection)
      this.owner.remove(this)
      Metrics.closed(info)
      this.owner.onEnded?.(this.transport, info)
      this.phase = Lifecycle.closed(this.phase)
      const waiters = this.waiters
      this.waiters = undefined
      if (waiters !== undefined) { for (const waiter of waiters) waiter(Effect.void) }
    })
  }
}

const interrupted = Exit.interrupt()

/** The `Refusal` a handler failed with on purpose (`Upgrade.refuse`), if that is how the turn ended. */
const refusalOf = (exit: Exit.Exit<CloseInfo | undefined, unknown>): Refusal | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = Cause.findErrorOption(exit.cause)
  return Option.isSome(failure) && failure.value instanceof Refusal ? failure.value : undefined
}

/** How a turn's exit ended the connection, for the core's close-code rules. */
const outcomeOf = (exit: Exit.Exit<CloseInfo | undefined, unknown>): Lifecycle.Outcome =>
  Exit.isSuccess(exit)
    ? exit.value === undefined ? { _tag: "Interrupted" } : { _tag: "Decided", info: exit.value }
    : Cause.hasInterruptsOnly(exit.cause)
    ? { _tag: "Interrupted" }
    : { _tag: "Failed" }

/**
 * Waits for the closing handshake to finish, dropping the connection if it takes too long. It runs
 * uninterruptibly, often in an interrupted fiber (a shutdown): so the wait itself is uninterruptible,
 * and the deadline is a fiber of its own that terminates the transport, which ends the wait. A
 * transport already closed (the peer closed first, the usual case) needs neither.
 */
const awaitClosed = (transport: Transport, timeout: Duration.Duration): Effect.Effect<void> =>
  Effect.suspend(() =>
    transport.isClosed() ? Effect.void : Effect.flatMap(
      Effect.forkDetach(
        Effect.interruptible(Effect.andThen(
          Effect.sleep(timeout),
          Effect.sync(() => {
            Metrics.timedOut("close")
            transport.terminate()
          })
        ))
      ),
      (deadline) => Effect.andThen(transport.awaitClosed, Fiber.interrupt(deadline))
    )
  )

const kindOf = (tag: "TextMessage" | "BinaryMessage" | "CustomMessage"): string =>
  tag === "TextMessage" ? "text" : tag === "BinaryMessage" ? "binary" : "custom"
