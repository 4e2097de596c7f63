/**
 * The route: validate and decide the handshake, have the acceptor complete it, and hand the
 * connection to the acceptor to run. The route returns as soon as the 101 is out.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { Acceptor as AcceptorService, Sink, Transport, Wire } from "../Acceptor.js"
import type { Handlers, Options } from "../Upgrade.js"
import { Acceptor, type AcceptorImpl } from "./acceptor.js"
import { ConnectionImpl, flat } from "./connection.js"
import * as Handshake from "./handshake.js"
import { Inbox } from "./inbox.js"
import * as Limits from "./limits.js"
import * as Liveness from "./liveness.js"
import * as Loop from "./loop.js"
import * as Metrics from "./metrics.js"
import * as InternalOptions from "./options.js"
import * as Origin from "./origin.js"
import { ConnectionScope } from "./scope.js"

const noTransport = HttpServerResponse.text("WebSocket upgrades are not supported by this server", { status: 501 })
const shuttingDown = HttpServerResponse.text("The server is shutting down", {
  status: 503,
  headers: { connection: "close" }
})
/** What the route returns once the acceptor wrote the 101: the platform writes nothing for it. */
const upgraded = HttpServerResponse.empty({ status: 101 })
const internalError = HttpServerResponse.empty({ status: 500 })
const forbiddenOrigin = HttpServerResponse.text("Origin not allowed", { status: 403 })

/** Counts a refused upgrade (`websocket_upgrades_rejected_total`, by status). */
const rejectedWith = (response: HttpServerResponse.HttpServerResponse) =>
  Effect.sync(() => Metrics.rejected(response.status))
const rejectWith = (response: HttpServerResponse.HttpServerResponse) =>
  Effect.sync(() => {
    Metrics.rejected(response.status)
    return response
  })

/** The warning for a route's first cross-origin refusal: what was refused, and the option that allows it. */
const crossOriginAdvice = (policy: Origin.OriginPolicy, origin: string | undefined): string => {
  const listed = origin !== undefined && Origin.hostOfOrigin(origin) !== undefined
  return policy._tag === "SameOrigin"
    ? "effect-websocket: refused a WebSocket handshake from a page of another origin with 403 (said once per route). " +
      `To let pages of that origin connect, give upgradeWebSocket the option allowedOrigins: ${
        listed ? `["${origin}"]` : "a predicate"
      } (or "*" for every origin). Behind a proxy, serve with HttpMiddleware.xForwardedHeaders so that the ` +
      "same-origin check compares with the public host."
    : "effect-websocket: refused a WebSocket handshake from an origin that allowedOrigins does not allow, with 403 " +
      `(said once per route). To let pages of that origin connect, ${
        listed ? `add "${origin}" to allowedOrigins` : "allow it in the allowedOrigins predicate"
      }.`
}

export const upgradeWebSocket = <State, Custom, E, R>(
  handlers: Handlers<State, Custom, E, R>,
  options?: Options
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  InternalOptions.OptionsError,
  HttpServerRequest.HttpServerRequest | AcceptorService | R
> => {
  const resolved = InternalOptions.resolve(options)
  if (Either.isLeft(resolved)) return Effect.fail(resolved.left)
  const settings = resolved.right
  const counts = new Limits.Counts(settings)
  const wire: Wire = { maxMessageSize: settings.maxMessageSize, compression: settings.compression }
  const loopSettings: Loop.Settings = {
    initTimeout: settings.initTimeout,
    closeTimeout: settings.closeTimeout,
    sweeper: new Liveness.Sweeper(settings),
    release: (connection) => counts.remove(Option.getOrElse(connection.remoteAddress, () => "unknown"))
  }
  const route: Route<State, Custom, E, R> = { handlers, settings, counts, loopSettings }
  let warnedCrossOrigin = false

  const refuse = (refusal: Handshake.Refusal, request: HttpServerRequest.HttpServerRequest) => {
    switch (refusal._tag) {
      case "Invalid":
        return Effect.succeed(refusal.response)
      case "OptionFailed":
        return Effect.as(Effect.logError("effect-websocket: upgrade option failed", refusal.cause), internalError)
      case "CrossOrigin": {
        if (warnedCrossOrigin) return Effect.succeed(forbiddenOrigin)
        warnedCrossOrigin = true
        return Effect.as(
          Effect.logWarning(crossOriginAdvice(settings.origins, refusal.origin)).pipe(
            Effect.annotateLogs({ origin: String(refusal.origin), host: String(refusal.host), url: request.url })
          ),
          forbiddenOrigin
        )
      }
    }
  }

  // one synchronous step from the handshake to the running connection: nothing can interrupt it halfway
  return (
    Effect.withFiberRuntime<
      HttpServerResponse.HttpServerResponse,
      InternalOptions.OptionsError,
      HttpServerRequest.HttpServerRequest | AcceptorService | R
    >((fiber) => {
      const context = fiber.currentContext as Context.Context<HttpServerRequest.HttpServerRequest | AcceptorService | R>
      const request = Context.get(context, HttpServerRequest.HttpServerRequest)
      const acceptor = Context.get(context, Acceptor) as AcceptorImpl
      const decided = Handshake.decide(request, settings)
      if (Either.isLeft(decided)) return Effect.tap(refuse(decided.left, request), rejectedWith)
      if (acceptor.closing) return rejectWith(shuttingDown)
      const address = Option.getOrElse(request.remoteAddress, () => "unknown")
      const overLimit = counts.refuse(address)
      if (overLimit !== undefined) return rejectWith(overLimit)
      const decision = decided.right
      const runtime = Runtime.make({
        context,
        fiberRefs: fiber.getFiberRefs(),
        runtimeFlags: Runtime.defaultRuntimeFlags
      })
      let connected: Loop.Loop<State, Custom, E, R> | undefined
      const connect = (transport: Transport): Sink =>
        connected = open(route, transport, request, decision.protocol, runtime, acceptor, address)
      const transport = acceptor.accept(
        request,
        { protocol: decision.protocol, headers: decision.headers, wire },
        connect
      )
      if (transport === undefined) return rejectWith(noTransport)
      if (transport === "gone") return Effect.succeed(upgraded)
      // started once the acceptor is done with the transport: onInit may send at once
      connected?.start()
      return Effect.succeed(upgraded)
    })
  )
}

/** What every connection of one route shares. */
interface Route<State, Custom, E, R> {
  readonly handlers: Handlers<State, Custom, E, R>
  readonly settings: InternalOptions.ResolvedOptions
  readonly counts: Limits.Counts
  readonly loopSettings: Loop.Settings
}

/**
 * Builds a connection around its transport, whole, before the transport delivers anything, and
 * registers it with the acceptor. Outside the route's closure on purpose: a closure there would keep
 * what the route's fiber held for as long as the connection lives.
 */
const open = <State, Custom, E, R>(
  route: Route<State, Custom, E, R>,
  transport: Transport,
  request: HttpServerRequest.HttpServerRequest,
  protocol: string | undefined,
  routeRuntime: Runtime.Runtime<R>,
  acceptor: AcceptorImpl,
  address: string
): Loop.Loop<State, Custom, E, R> => {
  const { counts, settings } = route
  const inbox = new Inbox<Custom>(settings.inboxCapacity, transport)
  const liveness = new Liveness.Liveness(transport, inbox)
  const connection = new ConnectionImpl(transport, request, protocol, liveness, inbox, settings.outbound)
  // the connection's own Scope: what onInit acquires is released after onClose; made on first use
  const scope = new ConnectionScope()
  const loop: Loop.Loop<State, Custom, E, R> = new Loop.Loop(
    route.handlers,
    transport,
    inbox,
    liveness,
    connection,
    route.loopSettings,
    connectionRuntime(routeRuntime, scope),
    scope,
    acceptor
  )
  counts.add(address)
  Metrics.opened()
  acceptor.add(loop)
  return loop
}

/**
 * The runtime the connection's handlers run on: the route's, with the connection's `Scope`, and the
 * request's span (which holds every request attribute) replaced by a reference to it, so that spans
 * of the handlers still have it as parent. The context is set in the fiber refs too, which would
 * otherwise keep the route's.
 */
const connectionRuntime = <R>(runtime: Runtime.Runtime<R>, scope: Scope.Scope): Runtime.Runtime<R | Scope.Scope> => {
  let context = Context.add(runtime.context, Scope.Scope, scope)
  const parent = Context.getOption(context, Tracer.ParentSpan)
  if (Option.isSome(parent) && parent.value._tag === "Span") {
    const span = parent.value
    context = Context.add(
      context,
      Tracer.ParentSpan,
      Tracer.externalSpan({ spanId: flat(span.spanId), traceId: flat(span.traceId), sampled: span.sampled })
    )
  }
  return Runtime.make({
    context,
    runtimeFlags: runtime.runtimeFlags,
    // deleted first: an update keeps the values it replaces, the route's context among them
    fiberRefs: FiberRefs.updateAs(FiberRefs.delete(runtime.fiberRefs, FiberRef.currentContext), {
      fiberId: FiberId.none,
      fiberRef: FiberRef.currentContext,
      value: context
    })
  })
}
