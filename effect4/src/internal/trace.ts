/**
 * A connection's span, and the clock that times handlers.
 *
 * The span is made only when a tracer is installed (`effect/observability/OtlpTracer`,
 * `Effect.withTracer`): with Effect's built-in tracer (`Tracer.nativeTracer`), which sends spans
 * nowhere, an idle connection keeps no span. Its counters (messages and bytes each way) live next to
 * it, so an untraced connection counts nothing of its own: the metrics count for everyone.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import type { CloseInfo } from "../Connection.js"

/** The span of every connection. */
export const connectionSpan = "websocket.connection"
/** The span of each handled message, with `traceMessages`. */
export const messageSpan = "websocket.message"

/** The log annotations of every line inside a connection. */
export const annotationConnection = "websocket.connection"
export const annotationRoute = "websocket.route"
/** On the library's line about a close a protocol violation or a timer decided. */
export const annotationCloseCode = "websocket.closeCode"
export const annotationCloseReason = "websocket.closeReason"

/** Span attributes. */
export const attributes = {
  route: "websocket.route",
  connection: "websocket.connection",
  clientAddress: "client.address",
  protocol: "websocket.protocol",
  closeCode: "websocket.close.code",
  closeReason: "websocket.close.reason",
  closeInitiator: "websocket.close.initiator",
  messagesReceived: "websocket.messages.received",
  messagesSent: "websocket.messages.sent",
  bytesReceived: "websocket.bytes.received",
  bytesSent: "websocket.bytes.sent",
  messageKind: "websocket.message.kind"
} as const

/** The live clock: `Clock`'s default, which every context without a clock of its own reads. */
const liveClock = Context.get(Context.empty(), Clock.Clock)

/**
 * Milliseconds on `clock`, for durations. The live clock is read with `performance.now()` (a number,
 * where `monotonicTimeNanosUnsafe` makes a bigint); another clock (a `TestClock`) by its monotonic
 * time, which `TestClock.adjust` moves.
 */
export const now = (clock: Clock.Clock): number =>
  clock === liveClock ? performance.now() : Number(clock.monotonicTimeNanosUnsafe()) / 1_000_000

/** The clock of a context (a route's). */
export const clockOf = (context: Context.Context<never>): Clock.Clock => Context.get(context, Clock.Clock)

const noTime = BigInt(0)

/** One connection's span and what it counts for it. */
export class ConnectionTrace {
  messagesReceived = 0
  messagesSent = 0
  bytesReceived = 0
  bytesSent = 0

  constructor(readonly span: Tracer.Span, private readonly clock: Clock.Clock, private readonly timing: boolean) {}

  received(bytes: number): void {
    this.messagesReceived++
    this.bytesReceived += bytes
  }

  sent(bytes: number): void {
    this.messagesSent++
    this.bytesSent += bytes
  }

  /** Ends the span with how the connection ended; a failure when a handler failed. */
  end(info: CloseInfo, exit: Exit.Exit<unknown, unknown>): void {
    const span = this.span
    span.attribute(attributes.closeCode, info.code)
    span.attribute(attributes.closeReason, info.reason)
    span.attribute(attributes.closeInitiator, info.initiator)
    span.attribute(attributes.messagesReceived, this.messagesReceived)
    span.attribute(attributes.messagesSent, this.messagesSent)
    span.attribute(attributes.bytesReceived, this.bytesReceived)
    span.attribute(attributes.bytesSent, this.bytesSent)
    span.end(this.timing ? this.clock.currentTimeNanosUnsafe() : noTime, exit)
  }
}

/** What the connection's span starts with. */
export interface Start {
  readonly route: string
  readonly id: string
  readonly remoteAddress: string | undefined
  readonly protocol: string | undefined
}

/** `span`, or the first of its ancestors not marked `Tracer.DisablePropagation`, as `Effect.makeSpan` picks. */
const propagated = (span: Option.Option<Tracer.AnySpan>): Option.Option<Tracer.AnySpan> => {
  if (Option.isNone(span) || !Context.get(span.value.annotations, Tracer.DisablePropagation)) return span
  return span.value._tag === "Span" ? propagated(span.value.parent) : Option.none()
}

/**
 * Starts the connection's span on the route fiber's tracer, child of `parent` (the upgrade request's
 * span), as `Effect.makeSpan` would (kind `server`; the fiber's span annotations and links, sampling by
 * the parent's and `Tracer.MinimumTraceLevel`); `undefined` when tracing is off or the tracer is
 * Effect's built-in one.
 */
export const start = (
  fiber: Fiber.Fiber<unknown, unknown>,
  parent: Option.Option<Tracer.AnySpan>,
  start: Start
): ConnectionTrace | undefined => {
  if (!fiber.getRef(References.TracerEnabled)) return undefined
  const tracer = fiber.getRef(Tracer.Tracer)
  if (tracer === Tracer.nativeTracer) return undefined
  const clock = fiber.getRef(Clock.Clock)
  const timing = fiber.getRef(References.TracerTimingEnabled)
  const from = propagated(parent)
  const span = tracer.span({
    name: connectionSpan,
    parent: from,
    annotations: Context.empty(),
    links: fiber.getRef(References.TracerSpanLinks).slice(),
    startTime: timing ? clock.currentTimeNanosUnsafe() : noTime,
    kind: "server",
    root: false,
    sampled: Option.isSome(from) && from.value.sampled === false
      ? false
      : !LogLevel.isGreaterThan(fiber.getRef(Tracer.MinimumTraceLevel), fiber.getRef(Tracer.CurrentTraceLevel))
  })
  const annotations = fiber.getRef(References.TracerSpanAnnotations)
  for (const key in annotations) span.attribute(key, annotations[key])
  span.attribute(attributes.route, start.route)
  span.attribute(attributes.connection, start.id)
  if (start.remoteAddress !== undefined) span.attribute(attributes.clientAddress, start.remoteAddress)
  if (start.protocol !== undefined) span.attribute(attributes.protocol, start.protocol)
  return new ConnectionTrace(span, clock, timing)
}
