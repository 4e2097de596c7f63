/**
 * Upgrading an HTTP request to a WebSocket connection, and the handlers that run it.
 *
 * Port of Dream's `websocket.upgrade_websocket`. `upgradeWebSocket(handlers, options?)` is an
 * `Effect` usable as an `HttpRouter` route handler. It validates the handshake (a bad one gets 400
 * or 426), upgrades the connection, and then runs one loop per connection:
 *
 * 1. `onInit(connection)` returns the initial state and, optionally, a selector `Stream` whose values
 *    arrive as `CustomMessage`s. Frames the client sends meanwhile are kept and delivered after it.
 * 2. `onMessage(state, message, connection)` runs for each client frame and selector value, one at a
 *    time, in arrival order, and returns the next `Action`.
 * 3. `onClose(state, info, connection)` runs exactly once when the connection is over, whatever
 *    ended it.
 *
 * Dream's `dependencies` argument becomes the requirement type `R`: handlers `yield*` the services
 * they need, and the route provides them with a `Layer` or `Effect.provideService`, as for any Effect.
 * The route returns as soon as the 101 is out: the connection then belongs to the `Acceptor` service
 * (`NodeServer.layer` provides it), which closes it with 1001 when the server shuts down. Each
 * connection has its own `Scope`, closed after `onClose`.
 *
 * Before the upgrade, the route is an ordinary handler: it may answer with any response instead
 * (401 without a token, for example) simply by not calling `upgradeWebSocket`.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Action, Connection, Upgrade } from "effect-websocket"
 * import { HttpRouter } from "effect/http"
 *
 * const echo = Upgrade.upgradeWebSocket({
 *   onInit: () => Effect.succeed([null, Option.none()] as const),
 *   onMessage: (state, message, connection) =>
 *     message._tag === "TextMessage"
 *       ? Effect.as(Connection.sendText(connection, message.text), Action.continueConnection(state))
 *       : Effect.succeed(Action.continueConnection(state)),
 *   onClose: () => Effect.void
 * })
 *
 * // a route is a Layer of the app's HttpRouter: serve it with HttpRouter.serve
 * export const EchoRoutes = HttpRouter.add("GET", "/echo", echo)
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Acceptor from "./Acceptor.js"
import type { Action, CloseError } from "./Action.js"
import type { CloseInfo, Connection } from "./Connection.js"
import * as Close from "./internal/core/close.js"
import * as errors from "./internal/errors.js"
import * as InternalOptions from "./internal/options.js"
import * as internal from "./internal/upgrade.js"
import type { Message } from "./Message.js"

/**
 * The three functions that run a connection.
 *
 * - `onInit` runs once the connection is established; it returns the initial state and an optional
 *   selector stream. If it fails, the connection closes with 1011 and, as there is no state,
 *   `onClose` does not run.
 * - `onMessage` runs for every message, one at a time; a failure or defect closes with 1011 (the
 *   cause is logged).
 * - `onClose` runs exactly once after the connection ends, with the last state, how it ended and the
 *   connection (Dream's `on_close` gets no connection; its id is handy for registries and logs).
 *
 * Handlers run in the connection's current turn: a fiber that exists only while the connection has
 * messages to handle. A fiber a handler starts with `Effect.fork` ends with that turn; use
 * `Effect.forkScoped` to keep it for the connection's life (the connection's `Scope` is provided).
 *
 * Port of Dream's `on_init`, `on_message` and `on_close`; `E` and `R` are shared by all three, so
 * requirements flow into the route's type.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handlers<State, Custom, E = never, R = never> extends HandlersFor<State, Custom, E, R, E, R, R> {}

/**
 * The parameter type of `upgradeWebSocket`: `Handlers` with separate error and requirement types per
 * handler, so that handlers needing different services (or failing differently) infer as a union
 * instead of a type error. Any `Handlers<State, Custom, E, R>` is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface HandlersFor<State, Custom, EInit, RInit, E, R, RClose> {
  readonly onInit: (
    connection: Connection
  ) => Effect.Effect<readonly [State, Option.Option<Stream.Stream<Custom, EInit, RInit>>], EInit, RInit>
  readonly onMessage: (
    state: State,
    message: Message<Custom>,
    connection: Connection
  ) => Effect.Effect<Action<NoInfer<State>, Custom, E, R>, E, R>
  readonly onClose: (state: State, info: CloseInfo, connection: Connection) => Effect.Effect<void, never, RClose>
}

/**
 * The `rateLimit` option: token buckets on what the peer sends. Give `messagesPerSecond`,
 * `bytesPerSecond` or both.
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimitOptions {
  /** Messages per second, on average. */
  readonly messagesPerSecond?: number | undefined
  /** Messages at once above the rate. Default one second's worth (`messagesPerSecond`, at least 1). */
  readonly messageBurst?: number | undefined
  /** Bytes per second, on average, counted on the wire (after decompression). */
  readonly bytesPerSecond?: number | undefined
  /** Bytes at once above the rate. Default one second's worth, and never below `maxMessageSize`. */
  readonly byteBurst?: number | undefined
  /**
   * A message over the limit: `"close"` closes with 1008 (the default), `"drop"` drops it, `"pause"`
   * delivers it and stops reading until the peer is within the limit.
   */
  readonly onExceeded?: "close" | "drop" | "pause" | undefined
}

/**
 * Settings of an upgrade, fixed when the route is built. Every one is validated: an invalid value
 * makes the route fail with `OptionsError`.
 *
 * Liveness and limits:
 *
 * - `heartbeat`: the server pings every `interval`, and closes the connection (1001, `"heartbeat
 *   timeout"`, initiator `"timeout"`) if no pong arrives within `timeout` of a ping (default 30 s and
 *   10 s): a peer that goes silent is closed between `timeout` and `interval + timeout` after its last
 *   pong (10 to 40 s by default); `false` turns it off.
 * - `idleTimeout`: no data frame either way for this long closes the connection (1001, `"idle
 *   timeout"`, initiator `"timeout"`); pings and pongs do not count. Off by default (`false`): the
 *   heartbeat already closes a peer that is gone.
 * - Both timers of all the route's connections are kept by one sweep, which wakes at most ten times a
 *   second: a deadline is met within a tenth of the shortest of these timers, at most 100 ms.
 * - `initTimeout`: an `onInit` still running after this long is interrupted and the connection
 *   closes with 1011 (`"onInit timed out"`, initiator `"timeout"`; default 10 s).
 * - `outbound`: the bound on bytes queued for the peer. At `highWaterMark` (default 1 MiB) a send
 *   follows `policy`: `"suspend"` (default) waits for the queue to drain, up to `sendTimeout`
 *   (default 10 s), then fails with `SendError` `Timeout`; `"fail"` fails at once with `Backpressure`;
 *   `"close"` fails with `Backpressure` and closes the connection with 1008 (`"outbound buffer full"`).
 * - `maxConnections`: open connections of this route; beyond it the upgrade gets 503 with
 *   `Retry-After` (`retryAfter`, default 5 s). `maxConnectionsPerAddress`: the same per remote
 *   address, answered with 429. Both unlimited by default.
 *
 * Handshake and messages:
 *
 * - `maxMessageSize`: largest message accepted, in bytes, after reassembly of fragments and after
 *   decompression (default 1 MiB; `ws` alone would allow 100 MiB). A larger one closes the connection
 *   with 1009; the check uses the declared frame length, before the payload is buffered.
 * - `closeTimeout`: how long the server waits for the peer's closing handshake after it sent a close
 *   frame, before it drops the connection (default 5 seconds).
 * - `inboxCapacity`: how many messages may wait for the handler (default 1024). At capacity the
 *   transport stops reading the socket, so the client feels TCP backpressure, and the selector stream
 *   is suspended; nothing is dropped. As the loop takes a whole batch per wake-up, a connection holds
 *   at most twice this many messages: the batch being handled and a full inbox.
 * - `inboxBytes`: the bytes of the peer's messages a connection may hold, waiting for the handler or
 *   in the batch being handled (default `maxMessageSize`). At it the transport stops reading until
 *   the handler is done with them, so a connection holds at most this much and one message more.
 * - `rateLimit`: token buckets on what the peer sends (`messagesPerSecond`, `bytesPerSecond`, with
 *   bursts); over it, `onExceeded`: close with 1008 (default), drop the message, or pause reading.
 * - `compression`: permessage-deflate (RFC 7692), off by default; `true` or settings to offer it.
 * - `subprotocols`: the server's choice of subprotocol among those the client offers: a list in the
 *   server's order of preference, or a function of the offered list. Without it none is chosen (`ws`
 *   alone would take the client's first offer).
 * - `requireSubprotocol`: when no subprotocol fits, refuse the handshake with 400 (`true`) or continue
 *   without one (`false`, the default).
 * - `allowedOrigins`: which web pages may connect, against cross-site WebSocket hijacking (browsers
 *   send cookies with a handshake from any site, and CORS does not apply). Unset, only pages of the
 *   same origin: the `Origin` header's host and port must be those of the request's `Host` (http and
 *   https alike, default ports left out; behind a proxy, `HttpMiddleware.xForwardedHeaders` makes that
 *   the public host); an origin of another scheme (`file:`, `null`) is refused. `"*"`: every origin.
 *   A list: the origins (`"https://app.example.com"`) whose pages may connect. A predicate: decides
 *   itself. A refused handshake gets 403 before the upgrade, and the route's first refusal is logged
 *   as a warning naming the origin and this option. A request without `Origin` (not from a browser)
 *   is allowed by the default and a list; a predicate receives `undefined` for it.
 * - `headers`: extra headers on the 101 response (a cookie, a request id), or a function of the
 *   request that returns them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Pings the peer every `interval` and closes the connection (1001, `"heartbeat timeout"`,
   * initiator `"timeout"`) if no pong comes within `timeout` of a ping; no second ping goes out
   * while one awaits its pong. A peer that goes silent is closed between `timeout` and
   * `interval + timeout` after its last pong. Default `{ interval: "30 seconds", timeout: "10 seconds" }`
   * (closed 10 to 40 s after it went silent); `false` turns it off.
   */
  readonly heartbeat?:
    | false
    | { readonly interval?: Duration.Input; readonly timeout?: Duration.Input }
    | undefined
  /**
   * Closes a connection with no data frame either way for this long (1001, `"idle timeout"`,
   * initiator `"timeout"`); pings and pongs do not count. Default `false` (off): the heartbeat already
   * closes a peer that is gone, so this is for an app that wants to reclaim live but quiet sessions.
   */
  readonly idleTimeout?: false | Duration.Input | undefined
  /** Interrupts an `onInit` still running after this long and closes with 1011. Default 10 seconds. */
  readonly initTimeout?: Duration.Input | undefined
  /**
   * The bound on bytes queued for the peer. `highWaterMark` in bytes (default 1 MiB); at it, a send
   * follows `policy`: `"suspend"` (default) waits for the queue to drain, up to `sendTimeout` (default
   * 10 seconds, then `SendError` `Timeout`); `"fail"` fails with `Backpressure`; `"close"` fails with
   * `Backpressure` and closes with 1008.
   */
  readonly outbound?: {
    /** Bytes queued for the peer at which `policy` applies. Default 1 MiB. */
    readonly highWaterMark?: number | undefined
    /**
     * A send at the mark: `"suspend"` waits for the queue to drain (the default), `"fail"` fails with
     * `Backpressure`, `"close"` fails and closes with 1008. Broadcasts never wait: "close" closes a
     * full subscriber, the others skip it.
     */
    readonly policy?: "suspend" | "fail" | "close" | undefined
    /** How long a suspended send waits before failing with `Timeout`. Default 10 seconds. */
    readonly sendTimeout?: Duration.Input | undefined
  } | undefined
  /** Open connections of this route; beyond it the upgrade gets 503 with `Retry-After`. Default unlimited. */
  readonly maxConnections?: number | undefined
  /** Open connections of this route per remote address; beyond it, 429. Default unlimited. */
  readonly maxConnectionsPerAddress?: number | undefined
  /** The `Retry-After` of the `maxConnections` 503, rounded up to seconds. Default 5 seconds. */
  readonly retryAfter?: Duration.Input | undefined
  /**
   * Largest message accepted, in bytes, after reassembly and decompression; a larger one closes with
   * 1009, checked from the declared length before buffering. Default 1 MiB (1048576).
   */
  readonly maxMessageSize?: number | undefined
  /** How long the server waits for the peer's closing handshake before dropping it. Default 5 seconds. */
  readonly closeTimeout?: Duration.Input | undefined
  /**
   * Messages that may wait for the handler. At capacity the socket is not read (TCP backpressure) and
   * the selector stream waits; nothing is dropped. Default 1024.
   */
  readonly inboxCapacity?: number | undefined
  /**
   * Bytes of the peer's messages the connection may hold: those waiting for the handler and those of
   * the batch being handled, counted on the wire. At it the socket is not read (TCP backpressure)
   * until the handler is done with them; nothing is dropped. Default `maxMessageSize`.
   */
  readonly inboxBytes?: number | undefined
  /**
   * A per-connection limit on what the peer sends, as token buckets: `messagesPerSecond` and/or
   * `bytesPerSecond` on average, with `messageBurst` (default one second's worth) and `byteBurst`
   * (default one second's worth, at least `maxMessageSize`, which it may not be below) at once. Over
   * it, `onExceeded`: `"close"` (default) closes with 1008 `"rate limit exceeded"` (initiator
   * `"error"`), `"drop"` drops the message and goes on, `"pause"` delivers it and stops reading the
   * socket until the peer is within the limit again. Timed on the connection's `Clock`. Default
   * `false` (no limit).
   */
  readonly rateLimit?: false | RateLimitOptions | undefined
  /** permessage-deflate (RFC 7692): `true` or settings to offer it. Default `false` (off). */
  readonly compression?: boolean | CompressionOptions | undefined
  /**
   * The server's choice among the subprotocols the client offers: a list in the server's order of
   * preference, or a function of the offered list. Default none chosen.
   */
  readonly subprotocols?: ReadonlyArray<string> | ((offered: ReadonlyArray<string>) => string | undefined) | undefined
  /** When no subprotocol fits: refuse with 400 (`true`) or go on without one (`false`, the default). */
  readonly requireSubprotocol?: boolean | undefined
  /**
   * Which web pages may connect. Default: the same origin (the `Origin`'s host and port are the
   * request's); `"*"`: every origin; a list of origins such as `"https://app.example.com"`; or a
   * predicate (`undefined` for requests without `Origin`). Refused: 403.
   */
  readonly allowedOrigins?: "*" | ReadonlyArray<string> | ((origin: string | undefined) => boolean) | undefined
  /** Extra headers of the 101 response, or a function of the request that returns them. Default none. */
  readonly headers?:
    | Readonly<Record<string, string>>
    | ((request: HttpServerRequest.HttpServerRequest) => Readonly<Record<string, string>>)
    | undefined
  /**
   * A span (`websocket.message`, attribute `websocket.message.kind`: `text`, `binary` or `custom`)
   * around each `onMessage`, child of the connection's span. Default `false`: a span per message
   * costs what it costs (an allocation and an export each), so it is opt-in; the connection's own
   * span is always there when a tracer is installed.
   */
  readonly traceMessages?: boolean | undefined
}

/**
 * permessage-deflate settings (RFC 7692), passed to `ws`.
 *
 * - `threshold`: messages smaller than this many bytes are sent uncompressed (default 1024).
 * - `level` (0–9, default 6) and `memLevel` (1–9, default 8): zlib's compression settings.
 * - `serverMaxWindowBits` / `clientMaxWindowBits` (8–15): cap the LZ77 window sizes. Unset, the
 *   server accepts what the client offers (at most 15). Set, an offer that cannot meet them is
 *   declined and the connection continues uncompressed.
 * - `serverNoContextTakeover` / `clientNoContextTakeover`: reset the compression context after every
 *   message, trading ratio for memory. Unset, the server follows the client's offer.
 * - `concurrencyLimit` (default 10): how many zlib operations run at once. `ws` keeps one limiter per
 *   process, so the first compressed connection's value applies to all.
 *
 * Decompressed messages are bounded by `maxMessageSize`: a compression bomb closes with 1009 after at
 * most that many bytes were inflated.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompressionOptions {
  /** Messages smaller than this many bytes go uncompressed. Default 1024. */
  readonly threshold?: number | undefined
  /** zlib compression level, 0 to 9. Default 6. */
  readonly level?: number | undefined
  /** zlib memory level, 1 to 9. Default 8. */
  readonly memLevel?: number | undefined
  /** Caps the server's LZ77 window, 8 to 15 bits; an offer that cannot meet it is declined. Default: the client's offer. */
  readonly serverMaxWindowBits?: number | undefined
  /** Caps the client's LZ77 window, 8 to 15 bits; an offer that cannot meet it is declined. Default: the client's offer. */
  readonly clientMaxWindowBits?: number | undefined
  /** Resets the server's compression context after every message. Default: the client's offer. */
  readonly serverNoContextTakeover?: boolean | undefined
  /** Resets the client's compression context after every message. Default: the client's offer. */
  readonly clientNoContextTakeover?: boolean | undefined
  /** zlib operations at once, process-wide in `ws` (the first compressed connection's value). Default 10. */
  readonly concurrencyLimit?: number | undefined
}

/**
 * An option given to `upgradeWebSocket` has an invalid value (`option`, `value`, and what was
 * `expected`). The route fails with it on every request (the router answers 500), so it shows up on
 * the first request instead of per connection; `make` fails with it when the route is built.
 *
 * @since 0.1.0
 * @category errors
 */
export const OptionsError: typeof InternalOptions.OptionsError = InternalOptions.OptionsError

/**
 * @since 0.1.0
 * @category errors
 */
export type OptionsError = InternalOptions.OptionsError

/**
 * The value `onInit` succeeds with when there is no selector stream: the initial state and
 * `Option.none()`. Like Dream's `#(state, option.None)`; it spares a tuple annotation (a literal
 * `[0, Option.none()] as const` would make the state type the literal `0`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Upgrade } from "effect-websocket"
 *
 * const onInit = () => Effect.succeed(Upgrade.initial(0))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = <State>(state: State): readonly [State, Option.Option<never>] => [state, Option.none()]

/**
 * The value `onInit` succeeds with to start with a selector stream, whose values arrive as
 * `CustomMessage`s. Like Dream's `#(state, option.Some(selector))`.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Upgrade } from "effect-websocket"
 *
 * const onInit = () => Effect.succeed(Upgrade.initialWithSelector(0, Stream.tick("1 second")))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const initialWithSelector = <State, Custom, E = never, R = never>(
  state: State,
  selector: Stream.Stream<Custom, E, R>
): readonly [State, Option.Option<Stream.Stream<Custom, E, R>>] => [state, Option.some(selector)]

/**
 * Upgrade the current request to a WebSocket connection and run `handlers` on it.
 *
 * Port of `websocket.upgrade_websocket`. The returned `Effect` is a route handler: it needs the
 * `HttpServerRequest`, the `Acceptor` (from `NodeServer.layer` or the test kit) and whatever the
 * handlers need (`R`, less `Scope`: the connection brings its own). It completes once the 101 is out;
 * the connection then runs in the acceptor until it is over. A request that is not a valid WebSocket handshake gets a 426 (no or wrong
 * `Upgrade`, unsupported `Sec-WebSocket-Version`) or 400 (not GET, missing `Connection: Upgrade`,
 * bad `Sec-WebSocket-Key`) response. With `options`, it also fails with `OptionsError` if an option is
 * invalid, on every request; `make` validates them once, when the route is built.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Upgrade } from "effect-websocket"
 *
 * const route = Upgrade.upgradeWebSocket(
 *   {
 *     onInit: () => Effect.succeed(Upgrade.initial(0)),
 *     onMessage: (count: number) => Effect.succeed(Action.continueConnection(count + 1)),
 *     onClose: (count, info) => Effect.log(`closed after ${count} messages with ${info.code}`)
 *   },
 *   { maxMessageSize: 64 * 1024 }
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export function upgradeWebSocket<State, Custom, EInit = never, RInit = never, E = never, R = never, RClose = never>(
  handlers: HandlersFor<State, Custom, EInit, RInit, E, R, RClose>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Exclude<RInit | R | RClose, Scope.Scope>
>
export function upgradeWebSocket<State, Custom, EInit = never, RInit = never, E = never, R = never, RClose = never>(
  handlers: HandlersFor<State, Custom, EInit, RInit, E, R, RClose>,
  options: Options
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  OptionsError,
  HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Exclude<RInit | R | RClose, Scope.Scope>
>
export function upgradeWebSocket<State, Custom, E, R>(
  handlers: Handlers<State, Custom, E, R>,
  options?: Options
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  OptionsError,
  HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Exclude<R, Scope.Scope>
> {
  return internal.upgradeWebSocket(handlers, options) as Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    OptionsError,
    HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Exclude<R, Scope.Scope>
  >
}

/**
 * `upgradeWebSocket` with its options validated when the route is built, not on each request: an
 * `Effect` that fails with `OptionsError` at once (so a bad option stops the program or the Layer
 * that builds the route, at startup), or succeeds with the route, which then cannot fail with
 * `OptionsError`. Use it where the route is made inside an `Effect` or a Layer.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Action, Upgrade } from "effect-websocket"
 * import { HttpRouter } from "effect/http"
 *
 * // a bad option fails the Layer when it is built, at startup
 * export const CounterRoutes = Layer.unwrap(Effect.gen(function*() {
 *   const counter = yield* Upgrade.make({
 *     onInit: () => Effect.succeed(Upgrade.initial(0)),
 *     onMessage: (count: number) => Effect.succeed(Action.continueConnection(count + 1)),
 *     onClose: () => Effect.void
 *   }, { maxMessageSize: 64 * 1024 })
 *   return HttpRouter.add("GET", "/count", counter)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <State, Custom, EInit = never, RInit = never, E = never, R = never, RClose = never>(
  handlers: HandlersFor<State, Custom, EInit, RInit, E, R, RClose>,
  options?: Options
): Effect.Effect<
  Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    never,
    HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Exclude<RInit | R | RClose, Scope.Scope>
  >,
  OptionsError
> =>
  internal.make(handlers as Handlers<State, Custom, EInit | E, RInit | R | RClose>, options) as Effect.Effect<
    Effect.Effect<
      HttpServerResponse.HttpServerResponse,
      never,
      HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Exclude<RInit | R | RClose, Scope.Scope>
    >,
    OptionsError
  >

/**
 * A handler's decision to end the connection with a close code, from `refuse`: not a failure. Its
 * `code` and `reason` go on the wire (after `last`, when given), `CloseInfo.initiator` is `"server"`,
 * and nothing is logged.
 *
 * @since 0.1.0
 * @category errors
 */
export const Refusal: typeof errors.Refusal = errors.Refusal

/**
 * @since 0.1.0
 * @category errors
 */
export type Refusal = errors.Refusal

/**
 * Ends the connection from a handler with a chosen close code and reason, and optionally a last
 * message sent before the close frame: an `Effect` that fails with `Refusal`, which the loop turns
 * into that close instead of a 1011 with an error log. Meant above all for `onInit`, which runs
 * after the 101 and so cannot answer with an HTTP status: `yield* Upgrade.refuse(1013, "try again
 * later")` while a dependency is down, `4003` for a room that is full. `onClose` does not run when
 * `onInit` refuses (there is no state); from `onMessage` it does, as after `stopConnectionWith`.
 * The code and reason are validated as `stopConnectionWith`'s: an invalid one fails with
 * `CloseError` instead, a handler failure (1011).
 *
 * Refuse before the upgrade (an HTTP status from the route: 401, 403, 429) when the request alone
 * decides; refuse after it, with a close code, when only `onInit` can know (its services, the room).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Upgrade } from "effect-websocket"
 *
 * const full = (members: number) =>
 *   Upgrade.upgradeWebSocket({
 *     onInit: () =>
 *       members >= 10
 *         ? Upgrade.refuse(4003, "room full", { last: JSON.stringify({ type: "full" }) })
 *         : Effect.succeed(Upgrade.initial(members)),
 *     onMessage: (state: number) => Effect.succeed(Action.continueConnection(state)),
 *     onClose: () => Effect.void
 *   })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const refuse = (
  code: number,
  reason: string = "",
  options?: { readonly last?: string | Uint8Array | undefined }
): Effect.Effect<never, Refusal | CloseError> => {
  const invalid = Close.validateClose(code, reason)
  return invalid === undefined
    ? Effect.fail(new errors.Refusal({ code, reason, last: options?.last }))
    : Effect.fail(new errors.CloseError({ reason: invalid, code, closeReason: reason }))
}
