/**
 * A connection's span, and the clock that times handlers.
 *
 * The span is made only when a tracer is installed (`Layer.setTracer`, @effect/opentelemetry): with
 * Effect's built-in tracer, which sends spans nowhere, an idle connection keeps no span. Its counters
 * (messages and bytes each way) live next to it, so an untraced connection counts nothing of its own:
 * the metrics count for everyone.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import type * as Option from "effect/Option"
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

const builtInTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)
const liveClock = Context.get(DefaultServices.liveServices, Clock.Clock)

/**
 * Milliseconds on `clock`, for durations. The live clock is read with `performance.now()` (a number,
 * where `unsafeCurrentTimeNanos` makes a bigint); a test clock as it says.
 */
export const now = (clock: Clock.Clock): number =>
  clock === liveClock ? performance.now() : Number(clock.unsafeCurrentTimeNanos()) / 1_000_000

/** The clock of the fiber refs' services. */
export const clockOf = (services: Context.Context<DefaultServices.DefaultServices>): Clock.Clock =>
  Context.get(services, Clock.Clock)

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
    span.end(this.timing ? this.clock.unsafeCurrentTimeNanos() : BigInt(0), exit)
  }
}

/** What the connection's span starts with. */
export interface Start {
  readonly route: string
  readonly id: string
  readonly remoteAddress: string | undefined
  readonly protocol: string | undefined
}

/**
 * Starts the connection's span on the route fiber's tracer, child of `parent` (the upgrade request's
 * span), as `Effect.makeSpan` would (span annotations and links of the fiber included); `undefined`
 * when tracing is off or the tracer is Effect's built-in one.
 */
export const start = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  parent: Option.Option<Tracer.AnySpan>,
  start: Start
): ConnectionTrace | undefined => {
  if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return undefined
  const services = fiber.getFiberRef(DefaultServices.currentServices)
  const tracer = Context.get(services, Tracer.Tracer)
  if (tracer === builtInTracer) return undefined
  const clock = clockOf(services)
  const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
  const links = Chunk.toReadonlyArray(fiber.getFiberRef(FiberRef.currentTracerSpanLinks))
  const span = tracer.span(
    connectionSpan,
    parent,
    Context.empty(),
    links,
    timing ? clock.unsafeCurrentTimeNanos() : BigInt(0),
    "server"
  )
  HashMap.forEach(fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations), (value, key) => span.attribute(key, value))
  span.attribute(attributes.route, start.route)
  span.attribute(attributes.connection, start.id)
  if (start.remoteAddress !== undefined) span.attribute(attributes.clientAddress, start.remoteAddress)
  if (start.protocol !== undefined) span.attribute(attributes.protocol, start.protocol)
  return new ConnectionTrace(span, clock, timing)
}
