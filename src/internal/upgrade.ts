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
import type { Acceptor as AcceptorService, Wire } from "../Acceptor.js"
import type { Handlers, Options } from "../Upgrade.js"
import { Acceptor, type AcceptorImpl } from "./acceptor.js"
import { ConnectionImpl } from "./connection.js"
import * as Handshake from "./handshake.js"
import { Inbox } from "./inbox.js"
import * as Limits from "./limits.js"
import * as Liveness from "./liveness.js"
import * as Loop from "./loop.js"
import * as InternalOptions from "./options.js"
import * as Origin from "./origin.js"

const noTransport = HttpServerResponse.text("WebSocket upgrades are not supported by this server", { status: 501 })
const shuttingDown = HttpServerResponse.text("The server is shutting down", {
  status: 503,
  headers: { connection: "close" }
})
/** What the route returns once the acceptor wrote the 101: the platform writes nothing for it. */
const upgraded = HttpServerResponse.empty({ status: 101 })
const internalError = HttpServerResponse.empty({ status: 500 })
const forbiddenOrigin = HttpServerResponse.text("Origin not allowed", { status: 403 })

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
    sweeper: new Liveness.Sweeper(settings)
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
  return Effect.withFiberRuntime<
    HttpServerResponse.HttpServerResponse,
    InternalOptions.OptionsError,
    HttpServerRequest.HttpServerRequest | AcceptorService | R
  >((fiber) => {
    const context = fiber.currentContext as Context.Context<HttpServerRequest.HttpServerRequest | AcceptorService | R>
    const request = Context.get(context, HttpServerRequest.HttpServerRequest)
    const acceptor = Context.get(context, Acceptor) as AcceptorImpl
    const decided = Handshake.decide(request, settings)
    if (Either.isLeft(decided)) return refuse(decided.left, request)
    if (acceptor.closing) return Effect.succeed(shuttingDown)
    const address = Option.getOrElse(request.remoteAddress, () => "unknown")
    const overLimit = counts.refuse(address)
    if (overLimit !== undefined) return Effect.succeed(overLimit)
    const decision = decided.right
    const inbox = new Inbox<Custom>(settings.inboxCapacity)
    const transport = acceptor.accept(request, { protocol: decision.protocol, headers: decision.headers, wire }, inbox)
    if (transport === undefined) return Effect.succeed(noTransport)
    if (transport === "gone") return Effect.succeed(upgraded)
    inbox.flow = transport
    const connection = new ConnectionImpl(transport, request, decision.protocol, inbox, settings.outbound)
    counts.add(address)
    // the connection's own Scope: what onInit acquires is released after onClose
    const scope = Effect.runSync(Scope.make())
    const runtime = connectionRuntime(
      Runtime.make({ context, fiberRefs: fiber.getFiberRefs(), runtimeFlags: Runtime.defaultRuntimeFlags }),
      scope
    )
    const loop: Loop.Loop<State, Custom, E, R> = new Loop.Loop(
      handlers,
      transport,
      inbox,
      connection,
      loopSettings,
      runtime,
      scope,
      (info) => {
        counts.remove(address)
        acceptor.remove(loop)
        acceptor.onEnded?.(transport, info)
      }
    )
    acceptor.add(loop)
    loop.start()
    return Effect.succeed(upgraded)
  })
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

/** A copy in one piece: Effect builds span ids by concatenation, and V8 keeps each piece. */
const flat = (id: string): string => JSON.parse(JSON.stringify(id)) as string
