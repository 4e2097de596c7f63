/**
 * Testing WebSocket handlers in memory: no port, no wall clock, dependencies swapped by Layers.
 *
 * `connect(handlers)` runs `handlers` through the production `upgradeWebSocket` and loop, on an
 * in-memory transport instead of a socket, and returns a `TestClient`: the other end of the
 * connection. `connectTo(app, url)` does the same for a whole HTTP app (the routes of an `HttpRouter`,
 * made into one with `HttpRouter.toHttpEffect`) and a request with a query and headers, so route-level logic (reading `?user=`, refusing without a token)
 * is tested too; a route that answers without upgrading fails with `TestClientError` `"Rejected"`,
 * which carries the response.
 *
 * Nothing here uses real time for the connection itself, so handlers whose timers run on the `Clock`
 * (`Stream.tick`, `Effect.sleep`, `Schedule`) are driven with `TestClock.adjust` inside `it.effect`.
 * The only real timer is the guard of `receive`: it fails with `"NoFrame"` instead of hanging when
 * nothing arrives within `receiveTimeout` (default 2 seconds of real time).
 *
 * The client behaves like a `ws` client: it answers the server's close frame at once, and the server
 * answers its close with the same code. Its operations never hang and never throw: on a closed
 * connection they fail with `TestClientError` `"Closed"`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Connection, Testing, Upgrade } from "effect-websocket"
 *
 * const test = Effect.scoped(
 *   Effect.gen(function*() {
 *     const client = yield* Testing.connect({
 *       onInit: () => Effect.succeed(Upgrade.initial(null)),
 *       onMessage: (state, message, connection) =>
 *         message._tag === "TextMessage"
 *           ? Effect.as(Connection.sendText(connection, message.text), Action.continueConnection(state))
 *           : Effect.succeed(Action.continueConnection(state)),
 *       onClose: () => Effect.void
 *     })
 *     yield* client.sendText("hello")
 *     const frame = yield* client.receive // { _tag: "Text", text: "hello" }
 *     yield* client.close(1000)
 *     const info = yield* client.closeInfo // { code: 1000, reason: "", initiator: "peer" }
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Acceptor from "./Acceptor.js"
import type { CloseError } from "./Action.js"
import type * as Broadcast from "./Broadcast.js"
import type * as Client from "./Client.js"
import type { CloseInfo } from "./Connection.js"
import * as InternalBackplane from "./internal/backplane.js"
import * as internal from "./internal/testing.js"
import type * as Protocol from "./Protocol.js"
import { type HandlersFor, type Options, type OptionsError, upgradeWebSocket } from "./Upgrade.js"

/**
 * A data frame the server sent: text stays text and binary stays binary.
 *
 * @since 0.1.0
 * @category models
 */
export type Frame =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Binary"; readonly data: Uint8Array }

/**
 * A close as the client saw it: the server's close frame, the server's answer to the client's own
 * close, or 1006 when the connection was dropped.
 *
 * @since 0.1.0
 * @category models
 */
export interface Closed {
  readonly code: number
  readonly reason: string
}

/**
 * A test client used the connection wrongly, or the route did not upgrade.
 *
 * - `Closed`: the connection is closed (sending, closing again, or receiving once every frame was
 *   read); `closed` holds the close the client saw.
 * - `NoFrame`: `receive` waited `receiveTimeout` of real time and no frame came.
 * - `NotClosed`: `closed` or `closeInfo` waited `receiveTimeout` of real time and the connection was
 *   not over.
 * - `UnexpectedFrame`: `expectNoFrame` saw `frame` arrive.
 * - `Undecodable`: a typed client (`typed`) received a `frame` its protocol does not decode (`error`).
 * - `Rejected`: `connectTo`'s route answered with `response` instead of upgrading.
 *
 * @since 0.1.0
 * @category errors
 */
export const TestClientError: typeof internal.TestClientError = internal.TestClientError

/**
 * @since 0.1.0
 * @category errors
 */
export type TestClientError = internal.TestClientError

/**
 * The client end of an in-memory connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestClient {
  /**
   * Sends a text frame; fails with `Closed` once the connection is closed. While the server has
   * stopped reading (its inbox is full) the send waits, as a TCP sender would.
   */
  readonly sendText: (text: string) => Effect.Effect<void, TestClientError>
  /** Sends a binary frame; fails with `Closed` once the connection is closed. */
  readonly sendBinary: (data: Uint8Array) => Effect.Effect<void, TestClientError>
  /**
   * Starts the closing handshake, with a code (none gives the server 1005) and a reason. The code and
   * reason are validated like `stopConnectionWith`'s; fails with `Closed` if already closed.
   */
  readonly close: (code?: number, reason?: string) => Effect.Effect<void, TestClientError | CloseError>
  /** Loses the connection without a close frame: the server sees 1006. Does nothing once closed. */
  readonly drop: Effect.Effect<void>
  /** The next frame from the server. Fails with `Closed` when the connection closed and every frame was read, or `NoFrame` after `receiveTimeout`. */
  readonly receive: Effect.Effect<Frame, TestClientError>
  /**
   * Reads frames until one satisfies `predicate` and returns it; the frames before it are read and
   * dropped. Fails like `receive` when none comes: `NoFrame` (each frame within `receiveTimeout`) or
   * `Closed`.
   */
  readonly receiveUntil: {
    <A extends Frame>(refinement: (frame: Frame) => frame is A): Effect.Effect<A, TestClientError>
    (predicate: (frame: Frame) => boolean): Effect.Effect<Frame, TestClientError>
  }
  /** Every frame from the server until the connection closes; fails with `NoFrame` like `receive`. */
  readonly frames: Stream.Stream<Frame, TestClientError>
  /**
   * Succeeds when no frame arrives within `duration` of real time (frames already received but not
   * read count as arriving); fails with `UnexpectedFrame` otherwise, leaving the frame to `receive`.
   */
  readonly expectNoFrame: (duration: Duration.Input) => Effect.Effect<void, TestClientError>
  /** Waits for the close as the client saw it; fails with `NotClosed` after `receiveTimeout`. */
  readonly closed: Effect.Effect<Closed, TestClientError>
  /**
   * Waits until the server side is done (`onClose` ran, the transport closed), and returns how it
   * ended; fails with `NotClosed` after `receiveTimeout`.
   */
  readonly closeInfo: Effect.Effect<CloseInfo, TestClientError>
  /** How many pings the server has sent so far. */
  readonly pings: Effect.Effect<number>
}

/**
 * Options of `connect` and `connectTo`.
 *
 * - `upgrade`: the `upgradeWebSocket` options (`connect` only; a route brings its own).
 * - `headers`: request headers added to the handshake's. The request's `Host` is `localhost`, and
 *   it sends no `Origin` (as a client that is not a browser): add `origin: "http://localhost"` to
 *   act as a same-origin page, another origin to test the route's `allowedOrigins`.
 * - `receiveTimeout`: real time `receive` waits before failing with `NoFrame` (default 2 seconds).
 * - `autoPong`: answer the server's pings, as a `ws` client does (default `true`); `false` makes a
 *   half-open peer for heartbeat tests.
 * - `remoteAddress`: the client's address as the server sees it (default none), for per-address limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  readonly upgrade?: Options | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly receiveTimeout?: Duration.Input | undefined
  readonly autoPong?: boolean | undefined
  readonly remoteAddress?: string | undefined
}

/**
 * Connects a test client to `handlers`, run by the production loop on the in-memory transport. The
 * connection lives until the client closes or drops it, the handlers stop it, or the surrounding
 * `Scope` closes (which the server sees as a shutdown, 1001). The handlers' requirements become the
 * effect's, so tests provide them with test Layers. Fails with `OptionsError` if `options.upgrade`
 * is invalid.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Testing, Upgrade } from "effect-websocket"
 *
 * const client = Testing.connect({
 *   onInit: () => Effect.succeed(Upgrade.initial(0)),
 *   onMessage: (count: number) => Effect.succeed(Action.continueConnection(count + 1)),
 *   onClose: () => Effect.void
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = <State, Custom, EInit = never, RInit = never, E = never, R = never, RClose = never>(
  handlers: HandlersFor<State, Custom, EInit, RInit, E, R, RClose>,
  options?: ConnectOptions
): Effect.Effect<TestClient, OptionsError, Scope.Scope | RInit | R | RClose> =>
  Effect.catchTag(
    internal.run(
      options?.upgrade === undefined ? upgradeWebSocket(handlers) : upgradeWebSocket(handlers, options.upgrade),
      "/",
      options
    ),
    "TestClientError",
    (error) => Effect.die(error)
  )

/**
 * Sends a WebSocket handshake for `url` (a path with an optional query, such as `"/chat?user=ann"`)
 * with `options.headers` through `app` (any HTTP app: a route, or the routes of an `HttpRouter` made
 * into one with `HttpRouter.toHttpEffect`), and connects a test client when the route upgrades. Fails
 * with `TestClientError` `"Rejected"`, carrying the response, when the route answers without
 * upgrading, and with the app's own errors (a router's `HttpServerError` for an unknown route).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { Testing } from "effect-websocket"
 *
 * const Routes = HttpRouter.add("GET", "/ws", HttpServerResponse.text("no", { status: 401 }))
 *
 * // in a scope (`it.effect`): the router's Layer is built once, and lives as long as the scope
 * const status = Effect.gen(function*() {
 *   const app = yield* HttpRouter.toHttpEffect(Routes)
 *   const error = yield* Effect.flip(Testing.connectTo(app, "/ws"))
 *   return error._tag === "TestClientError" ? error.response?.status : undefined // 401
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectTo = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  url: string,
  options?: ConnectOptions
): Effect.Effect<
  TestClient,
  E | TestClientError,
  Scope.Scope | Exclude<R, HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Scope.Scope>
> => internal.run(app, url, options)

/**
 * A test client that speaks a route's protocol, as a client application would: `send` encodes with
 * the protocol's incoming schema, `receive` decodes with its outgoing schema. `client` is the plain
 * client underneath (to send a malformed frame, say).
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedTestClient<In, Out> {
  readonly client: TestClient
  /** Encodes `value` and sends it; fails with `EncodeError` if it does not encode. */
  readonly send: (value: In) => Effect.Effect<void, TestClientError | Protocol.EncodeError>
  /** The next frame, decoded; fails with `Undecodable` if it does not decode. */
  readonly receive: Effect.Effect<Out, TestClientError>
  /**
   * Reads decoded messages until one satisfies `predicate` and returns it, dropping those before
   * (`client.receiveUntil((m) => m.type === "joined")`). Fails as `receive` does when none comes.
   */
  readonly receiveUntil: {
    <A extends Out>(refinement: (message: Out) => message is A): Effect.Effect<A, TestClientError>
    (predicate: (message: Out) => boolean): Effect.Effect<Out, TestClientError>
  }
  /** The close as the client saw it: `client.closed`. */
  readonly closed: Effect.Effect<Closed, TestClientError>
  /** How the server side ended the connection: `client.closeInfo`. */
  readonly closeInfo: Effect.Effect<CloseInfo, TestClientError>
}

/**
 * Wraps a test client of a route that speaks `protocol`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Protocol, Testing } from "effect-websocket"
 *
 * const Echo = Protocol.json({ incoming: Schema.String, outgoing: Schema.String })
 * declare const route: Parameters<typeof Testing.connectTo>[0]
 * const test = Effect.gen(function*() {
 *   const client = Testing.typed(Echo, yield* Testing.connectTo(route, "/"))
 *   yield* client.send("hello")
 *   const answer: string = yield* client.receive
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const typed = <In, Out>(protocol: Protocol.Protocol<In, Out>, client: TestClient): TypedTestClient<In, Out> =>
  internal.typed(protocol, client)

/**
 * One server of a `Backplane`: its `Broadcast` service (provide it to the routes and code of that
 * server), and what can happen to it.
 *
 * @since 2.0.0
 * @category backplane
 */
export interface Node {
  /** The server's id (presence refs and positions name streams after it). */
  readonly id: string
  /** The node's broadcast service: `Effect.provideService(Broadcast.Broadcast, node.broadcast)`. */
  readonly broadcast: Broadcast.Broadcast
  /**
   * The server dies as with SIGKILL: its heartbeats stop, it hears and tells nothing more, and it
   * never leaves the store, so the others drop its presence only once its liveness expires.
   */
  readonly kill: Effect.Effect<void>
  /** Cuts the server off the backplane (its publishes fail, nothing reaches it) until `restore`. */
  readonly cut: Effect.Effect<void>
  readonly restore: Effect.Effect<void>
}

/**
 * Several servers in one test, sharing topics and presence as `BroadcastRedis` makes real ones do,
 * with no Redis and on the test's clock: presence liveness expires, heartbeats and sweeps run with
 * `TestClock.adjust`.
 *
 * @since 2.0.0
 * @category backplane
 */
export interface Backplane {
  /**
   * A server on the backplane, for as long as the scope (closing it leaves as closing a Redis layer
   * does). `ttl` is its presence liveness's time to live in milliseconds (default 10,000).
   */
  readonly node: (options?: {
    readonly ttl?: number | undefined
    readonly frames?: boolean | undefined
  }) => Effect.Effect<Node, never, Scope.Scope>
  /** The store restarts empty, as a Redis restarted without persistence. */
  readonly clear: Effect.Effect<void>
}

/**
 * A new in-memory backplane, whose time is the test's clock.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 * import { Testing } from "effect-websocket"
 * const test = Effect.gen(function*() {
 *   const backplane = yield* Testing.backplane
 *   const a = yield* backplane.node({ ttl: 3000 })
 *   const b = yield* backplane.node({ ttl: 3000 })
 *   yield* a.kill
 *   yield* TestClock.adjust("5 seconds") // b has dropped a's members
 * })
 * ```
 * @since 2.0.0
 * @category backplane
 */
export const backplane: Effect.Effect<Backplane> = Effect.map(InternalBackplane.make, (made) => ({
  node: (options) => made.node(options),
  clear: Effect.sync(() => made.clear())
}))

/**
 * A server in memory for a `Client`: `WebSocket` is a class whose sockets run `app`'s route through
 * the production loop, as `connectTo` does, with no port; and what can happen to the connections.
 *
 * @since 2.0.0
 * @category client
 */
export interface MemoryServer {
  /** Pass it as the client's `webSocket`; every `new WebSocket(url)` is a connection to `app`. */
  readonly WebSocket: Client.WebSocketConstructor
  /** Every open connection is lost without a close frame (1006), as when a network fails. */
  readonly drop: Effect.Effect<void>
  /** While `true`, new connections fail (1006), as when the server is down. */
  readonly refuse: (refusing: boolean) => Effect.Effect<void>
  /** How many of its sockets are open. */
  readonly connections: Effect.Effect<number>
}

/**
 * Connects `Client`s to a route (or a whole HTTP app, made into one effect with
 * `HttpRouter.toHttpEffect`, as for `connectTo`) in memory: the URL's path and query reach the route
 * as a request's, `options.headers` are sent with every handshake, and everything runs on the test's
 * clock, so reconnection delays and heartbeats are driven with `TestClock.adjust`. The connections
 * live in the caller's scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Protocol, Testing } from "effect-websocket"
 * declare const Echo: Protocol.Protocol<string, string>
 * declare const route: Parameters<typeof Testing.connectTo>[0]
 *
 * const test = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* Testing.webSocket(route)
 *   const client = yield* Client.make(Echo, "ws://test/echo", { webSocket: server.WebSocket })
 *   yield* client.awaitOpen
 *   yield* server.drop // the client reconnects after its backoff, on the TestClock
 * }))
 * ```
 * @since 2.0.0
 * @category client
 */
export const webSocket = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  options?: ConnectOptions
): Effect.Effect<
  MemoryServer,
  never,
  Scope.Scope | Exclude<R, HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Scope.Scope>
> => internal.webSocket(app, options)
