/**
 * The route: validate and decide the handshake, have the acceptor complete it, and hand the
 * connection to the acceptor to run. The route returns as soon as the 101 is out.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type { Acceptor as AcceptorService, Transport, Wire } from "../Acceptor.js"
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
  const loopSettings: Loop.Settings = { initTimeout: settings.initTimeout, sweeper: new Liveness.Sweeper(settings) }
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

  return Effect.contextWithEffect((context: Context.Context<HttpServerRequest.HttpServerRequest | AcceptorService>) => {
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
    const loop = new Loop.Loop(handlers, transport, inbox, connection, loopSettings)
    const run = loop.run.pipe(
      // the connection's own Scope: what onInit acquires is released after onClose
      Effect.scoped,
      Effect.ensuring(awaitClosed(transport, settings.closeTimeout)),
      Effect.ensuring(Effect.sync(() => {
        counts.remove(address)
        if (loop.info !== undefined) acceptor.onEnded?.(transport, loop.info)
      }))
    )
    return Effect.as(acceptor.run(run), upgraded)
  })
}

/**
 * Waits for the closing handshake to finish, dropping the connection if it takes too long. It runs as
 * a finaliser, often of an interrupted fiber (a shutdown): so the wait itself is uninterruptible, and
 * the deadline is a fiber of its own that terminates the transport, which ends the wait.
 */
const awaitClosed = (transport: Transport, timeout: Duration.Duration): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.forkDaemon(Effect.interruptible(Effect.zipRight(Effect.sleep(timeout), Effect.sync(() => transport.terminate())))),
    (deadline) => Effect.zipRight(transport.awaitClosed, Fiber.interrupt(deadline))
  )
