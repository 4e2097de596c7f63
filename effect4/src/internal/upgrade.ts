/**
 * The route: validate and decide the handshake, have the acceptor complete it, and hand the
 * connection to the acceptor to run. The route returns as soon as the 101 is out.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { Acceptor as AcceptorService, Sink, Transport, Wire } from "../Acceptor.js"
import type { Handlers, Options } from "../Upgrade.js"
import { Acceptor, AcceptorImpl } from "./acceptor.js"
import * as CompatEffect from "./compat/effect.js"
import { ConnectionImpl, flat } from "./connection.js"
import * as Handshake from "./handshake.js"
import { Inbox } from "./inbox.js"
import * as Limits from "./limits.js"
import * as Liveness from "./liveness.js"
import * as Loop from "./loop.js"
import * as Metrics from "./metrics.js"
import * as InternalOptions from "./options.js"
import * as Origin from "./origin.js"
import * as Trace from "./trace.js"

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
  return Result.isFailure(resolved) ? Effect.fail(resolved.failure) : route(handlers, resolved.success)
}

/** Validates the options now: a route that cannot fail with `OptionsError`, or the error. */
export const make = <State, Custom, E, R>(
  handlers: Handlers<State, Custom, E, R>,
  options?: Options
): Effect.Effect<
  Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    never,
    HttpServerRequest.HttpServerRequest | AcceptorService | R
  >,
  InternalOptions.OptionsError
> =>
  Effect.suspend(() => {
    const resolved = InternalOptions.resolve(options)
    return Result.isFailure(resolved)
      ? Effect.fail(resolved.failure)
      : Effect.succeed(route(handlers, resolved.success))
  })

/** The route of valid settings. */
const route = <State, Custom, E, R>(
  handlers: Handlers<State, Custom, E, R>,
  settings: InternalOptions.ResolvedOptions
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest | AcceptorService | R
> => {
  const wire: Wire = { maxMessageSize: settings.maxMessageSize, compression: settings.compression }
  // what the route's connections share on one server (its limits, its liveness sweep): two servers
  // serving the same route value count their connections apart
  const perServer = new WeakMap<object, Route<State, Custom, E, R>>()
  const routeOn = (server: object): Route<State, Custom, E, R> => {
    let route = perServer.get(server)
    if (route === undefined) {
      const counts = new Limits.Counts(settings)
      route = {
        handlers,
        settings,
        counts,
        loopSettings: {
          initTimeout: settings.initTimeout,
          closeTimeout: settings.closeTimeout,
          sweeper: new Liveness.Sweeper(settings),
          release: (connection) => counts.remove(Option.getOrElse(connection.remoteAddress, () => "unknown")),
          traceMessages: settings.traceMessages,
          rateLimit: settings.rateLimit
        },
        base: undefined
      }
      perServer.set(server, route)
    }
    return route
  }
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
  return Effect.withFiber<
    HttpServerResponse.HttpServerResponse,
    never,
    HttpServerRequest.HttpServerRequest | AcceptorService | R
  >((fiber) => {
    const context = fiber.context as Context.Context<HttpServerRequest.HttpServerRequest | AcceptorService | R>
    const request = Context.get(context, HttpServerRequest.HttpServerRequest)
    const acceptor = Option.getOrUndefined(Context.getOption(context, Acceptor))
    if (!(acceptor instanceof AcceptorImpl)) return noAcceptor(acceptor)
    const decided = Handshake.decide(request, settings)
    if (Result.isFailure(decided)) return Effect.tap(refuse(decided.failure, request), rejectedWith)
    if (acceptor.closing) return rejectWith(shuttingDown)
    const address = Option.getOrElse(request.remoteAddress, () => "unknown")
    const route = routeOn(acceptor.server)
    const overLimit = route.counts.response(address)
    if (overLimit !== undefined) return rejectWith(overLimit)
    const decision = decided.success
    // the connection's own Scope: what onInit acquires is released after onClose
    const scope = Scope.makeUnsafe()
    let connected: Loop.Loop<State, Custom, E, R> | undefined
    const connect = (transport: Transport): Sink =>
      connected = open(route, transport, request, decision.protocol, context, scope, acceptor, address, fiber)
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
}

/** What every connection of one route on one server shares. */
interface Route<State, Custom, E, R> {
  readonly handlers: Handlers<State, Custom, E, R>
  readonly settings: InternalOptions.ResolvedOptions
  readonly counts: Limits.Counts
  readonly loopSettings: Loop.Settings
  /** The services of the route's last connection, without what is per request (`servicesOf`). */
  base: Base | undefined
}

/** A route's services as one flat context, shared by its connections while their services are the same. */
interface Base {
  readonly services: ReadonlyMap<string, unknown>
  readonly context: Context.Context<never>
}

/**
 * Builds a connection around its transport, whole, before the transport delivers anything, and
 * registers it with the acceptor. Outside the route's closure on purpose: a closure there would keep
 * what the route's fiber held for as long as the connection lives. `fiber`, the route's, is only read
 * (its tracer), not kept.
 */
const open = <State, Custom, E, R>(
  route: Route<State, Custom, E, R>,
  transport: Transport,
  request: HttpServerRequest.HttpServerRequest,
  protocol: string | undefined,
  routeContext: Context.Context<R>,
  scope: Scope.Closeable,
  acceptor: AcceptorImpl,
  address: string,
  fiber: Fiber.Fiber<unknown, unknown>
): Loop.Loop<State, Custom, E, R> => {
  const { counts, settings } = route
  const path = routeOf(routeContext, request)
  const inbox = new Inbox<Custom>(settings.inboxCapacity, settings.inboxBytes, transport)
  const liveness = new Liveness.Liveness(transport, inbox)
  const connection = new ConnectionImpl(transport, request, protocol, liveness, inbox, settings.outbound, path)
  // the request's span itself: the tracer reads its sampling decision and knows it is local
  connection.trace = Trace.start(fiber, Context.getOption(routeContext, Tracer.ParentSpan), {
    route: path,
    id: connection.id,
    remoteAddress: Option.getOrUndefined(request.remoteAddress),
    protocol
  })
  const loop: Loop.Loop<State, Custom, E, R> = new Loop.Loop(
    route.handlers,
    transport,
    inbox,
    liveness,
    connection,
    route.loopSettings,
    connectionContext(
      route,
      routeContext,
      request,
      scope,
      connection.trace?.span ?? requestSpan(routeContext),
      path,
      connection.id
    ),
    scope,
    acceptor,
    Context.get(routeContext, Clock.Clock)
  )
  counts.add(address)
  Metrics.opened()
  acceptor.add(loop)
  return loop
}

let warnedNoAcceptor = false

/**
 * The answer when the route runs without an `Acceptor` made by `Acceptor.make`: a server that is not
 * `NodeServer.layer` (the platform's `NodeHttpServer.layer`, with the requirement cast away), or a
 * hand-built service. 500, and one clear line saying what to serve with, once per process.
 */
const noAcceptor = (found: AcceptorService | undefined) =>
  Effect.suspend(() => {
    Metrics.rejected(500)
    if (warnedNoAcceptor) return Effect.succeed(internalError)
    warnedNoAcceptor = true
    return Effect.as(
      Effect.logError(
        found === undefined
          ? "effect-websocket: a WebSocket route ran on a server with no Acceptor, so every upgrade gets 500 " +
            "(said once). Serve WebSocket routes with NodeServer.layer from effect-websocket instead of " +
            "NodeHttpServer.layer from @effect/platform-node, or provide an Acceptor (Testing in tests)."
          : "effect-websocket: the Acceptor service was not made by Acceptor.make, so every upgrade gets 500 " +
            "(said once). Build it with Acceptor.make(accept) in a scoped Layer, or serve with NodeServer.layer."
      ),
      internalError
    )
  })

/** The route's path pattern (`/rooms/:room`) when an `HttpRouter` serves it, the request's path otherwise. */
const routeOf = (context: Context.Context<never>, request: HttpServerRequest.HttpServerRequest): string => {
  const route = Context.getOption(context, HttpRouter.RouteContext)
  if (Option.isSome(route)) return route.value.route.path
  const query = request.url.indexOf("?")
  return flat(query < 0 ? request.url : request.url.slice(0, query))
}

/**
 * The upgrade request's span as a reference (its ids), for an untraced connection's handlers: the
 * request's span holds every request attribute, which a connection must not keep alive.
 */
const requestSpan = (context: Context.Context<never>): Tracer.AnySpan | undefined => {
  const parent = Context.getOption(context, Tracer.ParentSpan)
  if (Option.isNone(parent)) return undefined
  const span = parent.value
  if (span._tag === "ExternalSpan") return span
  return Tracer.externalSpan({ spanId: flat(span.spanId), traceId: flat(span.traceId), sampled: span.sampled })
}

/**
 * What the platform and the router add to one request's context, which a connection's context does not
 * take from it as is: the request, its query and route (added back one by one, as entries of their
 * own), the request's state (`HttpEffect`'s frame, which holds the request's whole context), its
 * `Scope` (closed once the route returns: the connection has its own), its span and its log
 * annotations (the connection's replace them).
 */
const perRequest: ReadonlySet<string> = new Set([
  HttpServerRequest.HttpServerRequest.key,
  HttpServerRequest.ParsedSearchParams.key,
  HttpRouter.RouteContext.key,
  CompatEffect.requestStateKey,
  Scope.Scope.key,
  Tracer.ParentSpan.key,
  References.CurrentLogAnnotations.key
])

/** The entries of a request's context a connection keeps besides the request (its query, its route). */
const keptPerRequest: ReadonlyArray<string> = [HttpServerRequest.ParsedSearchParams.key, HttpRouter.RouteContext.key]

/**
 * The route's services (everything in the request's context but what is per request), as one flat
 * context shared by the route's connections: the last connection's, when the services are the same
 * values (the usual case: they come from the app's layers); a new one otherwise (a service provided per
 * request, such as a user name read from the query, makes each connection's its own).
 */
const servicesOf = <State, Custom, E, R>(
  route: Route<State, Custom, E, R>,
  request: ReadonlyMap<string, unknown>
): Context.Context<never> => {
  const base = route.base
  if (base !== undefined && sameServices(base.services, request)) return base.context
  const services = new Map<string, unknown>()
  for (const [key, value] of request) if (!perRequest.has(key)) services.set(key, value)
  const context = Context.makeUnsafe<never>(services)
  route.base = { services, context }
  return context
}

/** Whether `request`'s services (its entries but what is per request) are exactly `services`. */
const sameServices = (services: ReadonlyMap<string, unknown>, request: ReadonlyMap<string, unknown>): boolean => {
  let count = 0
  for (const [key, value] of request) {
    if (perRequest.has(key)) continue
    if (services.get(key) !== value || !services.has(key)) return false
    count++
  }
  return count === services.size
}

/**
 * The context the connection's handlers run with: the route's services (shared, `servicesOf`), the
 * request, its query and route, the connection's `Scope`, as parent span the connection's (or a
 * reference to the request's, untraced), so that spans of the handlers have it as parent, and the log
 * annotations with `websocket.route` and `websocket.connection` added, so that every log line of a
 * connection, the library's and the handlers', names it and its route.
 *
 * Not the request's context itself: that one holds the platform's state for the request, which holds
 * the whole context the request started with, and a chain of one context per entry added since (eight
 * at a connection's). Built this way an idle connection keeps its few entries over the shared services.
 */
const connectionContext = <State, Custom, E, R>(
  route: Route<State, Custom, E, R>,
  context: Context.Context<R>,
  request: HttpServerRequest.HttpServerRequest,
  scope: Scope.Scope,
  parent: Tracer.AnySpan | undefined,
  path: string,
  id: string
): Context.Context<R | Scope.Scope> => {
  const entries = context.mapUnsafe
  let connection = Context.add(servicesOf(route, entries), HttpServerRequest.HttpServerRequest, request)
  for (const key of keptPerRequest) {
    if (entries.has(key)) connection = Context.addUnsafe(connection, key, entries.get(key))
  }
  connection = Context.add(connection, Scope.Scope, scope)
  if (parent !== undefined) connection = Context.add(connection, Tracer.ParentSpan, parent)
  return Context.add(connection, References.CurrentLogAnnotations, {
    ...Context.get(context, References.CurrentLogAnnotations),
    [Trace.annotationRoute]: path,
    [Trace.annotationConnection]: id
  }) as Context.Context<R | Scope.Scope>
}
