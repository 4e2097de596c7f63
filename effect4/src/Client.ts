/**
 * The other end of a typed route: a client that speaks the route's `Protocol`, reconnects, and sends
 * requests that expect a reply. It imports nothing of the server and nothing of Node, so the same
 * code runs in a browser, in Deno, in Bun and in Node 22 (their global `WebSocket`; `ws`'s class can
 * be passed as `webSocket` too); the test kit connects it to a route in memory (`Testing.webSocket`).
 *
 * `make(protocol, url, options)` returns at once, in a `Scope`: the connection is made in the
 * background and remade after abnormal closes; closing the scope closes the client.
 *
 * - **Messages**: `messages` is a `Stream` of the server's messages, decoded by the protocol's
 *   `outgoing` schema, from every connection in turn; it ends when the client is closed for good
 *   (it reads a bounded `Queue`, which Effect 4 has in place of Effect 3's `Mailbox`).
 *   One consumer takes them. At most `capacity` (4,096) wait for it: a consumer that falls further
 *   behind makes the client drop the connection (4001 "client buffer full") and reconnect, rather
 *   than hold an unbounded queue. A message that does not decode is skipped with a warning in the
 *   log (`onInvalid: "close"` closes with 4002 instead, which is not retried).
 * - **Sending**: `send` takes only what the protocol's `incoming` schema describes, and encodes it. While
 *   the client is not connected it fails with `ClientError` `"NotConnected"`, or, with `buffer: n`,
 *   keeps up to n frames, sent in order once the next connection is open and `onConnect` is done
 *   (`"BufferFull"` beyond). After the client is closed it fails with `"Closed"`.
 * - **Reconnecting**: after a close whose code is in `reconnect.retryOn` (1001 going away, 1006 lost,
 *   1011 server error, 1012 restart, 1013 try later, and the client's own 4000 heartbeat timeout and
 *   4001 buffer full), the client waits and connects again: 0.5 s, doubling up to 5 s, each wait drawn
 *   between half and all of it (`jitter: 0.5`) so that the clients a restarted server dropped do not
 *   come back at once; the count restarts once a connection opens. Any other close (1000, 1008
 *   policy, 1009 too big, 1007 invalid...) or `maxAttempts` failures in a row close the client for
 *   good. Waits run on the `Clock`, so `TestClock` drives them. `reconnect: false` never reconnects.
 * - **State**: `state` is a `SubscriptionRef` of `Connecting` (with the attempt), `Open`,
 *   `Reconnecting` (the attempt, the delay, and the close that caused it) and `Closed` (the close
 *   that ended it, for good): read it with `SubscriptionRef.get(client.state)` and follow it with
 *   `SubscriptionRef.changes(client.state)` (Effect 4's functions for Effect 3's `state.get` and
 *   `state.changes`). `awaitOpen` waits for `Open`.
 * - **Re-joining**: `onConnect(client)` runs on every connection once it opens, before anything kept
 *   in the buffer is sent and before the state says `Open`: the place to resubscribe, or send a
 *   hello. Its own sends and requests go out at once.
 * - **Heartbeat**: every `heartbeat` (30 s) the client sends `{"@heartbeat":n}`; a typed route
 *   (`Protocol.upgradeWebSocket`) answers it from the transport, whatever its handlers are doing. A
 *   heartbeat not answered by the next one means the server or the path to it is dead (a killed
 *   host sends no close): the client drops the connection (4000 "heartbeat timeout") and
 *   reconnects. `heartbeat: false` sends none (for a route that is not typed).
 * - **Requests**: `request(name, payload)` sends a request the protocol declares in `requests` and
 *   waits for its reply: the decoded success, or the decoded failure as the error, or `RequestError`
 *   (`"Timeout"` after `requestTimeout`, 10 s; `"Closed"` when the connection it went out on ends,
 *   because the reply cannot come any more; `"InvalidReply"`). A request made while disconnected
 *   follows the buffer policy. The server's own requests (`serverRequests`) are answered by the
 *   matching `onRequest` handler; one without a handler is logged and left unanswered.
 *
 * Not done: the client does not watch `bufferedAmount` (what the app sends is the app's own), and
 * does not deduplicate messages across reconnections (a protocol that needs it numbers its messages,
 * as `Presence` does).
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Client, Protocol } from "effect-websocket"
 *
 * const Chat = Protocol.json({
 *   incoming: Schema.Struct({ type: Schema.Literal("say"), text: Schema.String }),
 *   outgoing: Schema.Struct({ type: Schema.Literal("said"), text: Schema.String })
 * })
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const client = yield* Client.make(Chat, "ws://localhost:3000/chat")
 *   yield* client.awaitOpen
 *   yield* client.send({ type: "say", text: "hello" })
 *   const said = yield* Stream.runHead(client.messages)
 * }))
 * ```
 * @since 2.0.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import * as internal from "./internal/client.js"
import * as internalProtocol from "./internal/protocol.js"
import type { EncodeError, FailureOf, PayloadOf, Protocol, Requests, SuccessOf } from "./Protocol.js"

/**
 * The part of a WHATWG `WebSocket` the client uses; what `webSocket` takes a constructor of.
 * @since 2.0.0
 * @category models
 */
export interface WebSocketLike extends internal.WebSocketLike {}

/**
 * A `WebSocket` class: the global one, `ws`'s, or the test kit's (`Testing.webSocket`).
 * @since 2.0.0
 * @category models
 */
export interface WebSocketConstructor extends internal.WebSocketConstructor {}

/**
 * Where the client is: `Connecting` (attempt 0 is the first connection), `Open`, `Reconnecting`
 * (waiting `delay` before attempt `attempt`, after the close `code`/`reason`), `Closed` (for good).
 * @since 2.0.0
 * @category models
 */
export type State = internal.State

/**
 * What went wrong on the client's side: `NotConnected` and `BufferFull` (a send while disconnected,
 * see `buffer`), `Closed` (the client is closed for good: `code`/`detail` say how), `InvalidOptions`
 * and `Unsupported` (no `WebSocket` here) from `make`.
 * @since 2.0.0
 * @category errors
 */
export const ClientError: typeof internal.ClientError = internal.ClientError

/**
 * @since 2.0.0
 * @category errors
 */
export type ClientError = internal.ClientError

/**
 * A request got no usable reply (see `Protocol.RequestError`).
 * @since 2.0.0
 * @category errors
 */
export const RequestError: typeof internalProtocol.RequestError = internalProtocol.RequestError

/**
 * @since 2.0.0
 * @category errors
 */
export type RequestError = internalProtocol.RequestError

/**
 * A connected (or reconnecting) client of a protocol: it sends `In` (the route's incoming messages)
 * and receives `Out`.
 * @since 2.0.0
 * @category models
 */
export interface Client<In, Out, Req extends Requests = {}> {
  /** The server's messages, decoded, from every connection in turn; ends when the client is closed. */
  readonly messages: Stream.Stream<Out>
  /** Encodes and sends a message, or keeps it while disconnected (see `buffer`). */
  readonly send: (message: In) => Effect.Effect<void, ClientError | EncodeError>
  /** Sends a request the protocol declares and waits for its reply. */
  readonly request: <const K extends keyof Req & string>(
    name: K,
    payload: PayloadOf<Req, K>,
    options?: { readonly timeout?: Duration.Input | undefined }
  ) => Effect.Effect<SuccessOf<Req, K>, FailureOf<Req, K> | RequestError | ClientError | EncodeError>
  /** Where the client is; `SubscriptionRef.changes(client.state)` streams it. */
  readonly state: SubscriptionRef.SubscriptionRef<State>
  /** Waits until a connection is open; fails with `ClientError` `"Closed"` if the client closes first. */
  readonly awaitOpen: Effect.Effect<void, ClientError>
  /**
   * Closes the client for good with `code` (1000, or 3000-4999) and `reason` (at most 123 bytes):
   * waiting requests fail with `"Closed"`, `messages` ends after what it holds.
   */
  readonly close: (code?: number, reason?: string) => Effect.Effect<void, ClientError>
}

/**
 * `make`'s options. Every duration is a `Duration.Input` (Effect 3's `DurationInput`); one that is
 * not a duration fails `make` with `ClientError` `"InvalidOptions"`.
 * @since 2.0.0
 * @category models
 */
export interface Options<In, Out, Req extends Requests, SReq extends Requests, R> {
  /** Subprotocols offered in the handshake. */
  readonly protocols?: string | ReadonlyArray<string> | undefined
  /** The `WebSocket` class; the global one by default (Node 22 has one; `ws`'s works too). */
  readonly webSocket?: WebSocketConstructor | undefined
  /** When to reconnect, and how long to wait (see the module's docs); `false`: never. */
  readonly reconnect?:
    | false
    | {
      /** The first wait (500 ms). */
      readonly initial?: Duration.Input | undefined
      /** The longest wait (5 s). */
      readonly max?: Duration.Input | undefined
      /** Each wait is this many times the last (2). */
      readonly factor?: number | undefined
      /** How much of a wait is drawn at random, 0 to 1 (0.5: between half and all of it). */
      readonly jitter?: number | undefined
      /** The close codes after which to reconnect (1001, 1006, 1011, 1012, 1013, 4000, 4001). */
      readonly retryOn?: Iterable<number> | undefined
      /** Failed attempts in a row after which the client gives up (no limit). */
      readonly maxAttempts?: number | undefined
    }
    | undefined
  /** How often to send a heartbeat, and how long to wait for its answer (30 s); `false`: none. */
  readonly heartbeat?: false | Duration.Input | undefined
  /** Frames kept while disconnected, sent on the next connection (0: sends fail with `NotConnected`). */
  readonly buffer?: number | undefined
  /** Messages from the server held for `messages` (4,096); beyond, the client reconnects (4001). */
  readonly capacity?: number | undefined
  /** How long `request` waits for a reply unless told otherwise (10 s). */
  readonly requestTimeout?: Duration.Input | undefined
  /**
   * How long a connection may take to open (10 s): a server that accepts the TCP connection and never
   * answers the upgrade is given up as a lost connection (1006 "connect timeout"), and retried.
   */
  readonly connectTimeout?: Duration.Input | undefined
  /** A message from the server that does not decode: skipped and logged (`"skip"`), or `"close"` (4002). */
  readonly onInvalid?: "skip" | "close" | undefined
  /** Runs on every connection once it opens, before kept frames are sent: re-join here. */
  readonly onConnect?: OnConnect<In, Out, Req, R> | undefined
  /** Answers the server's requests (`serverRequests`), by name. */
  readonly onRequest?:
    | {
      readonly [K in keyof SReq & string]?: (
        payload: PayloadOf<SReq, K>
      ) => Effect.Effect<SuccessOf<SReq, K>, FailureOf<SReq, K>, R>
    }
    | undefined
}

/**
 * What `onConnect` is: an effect run with the client on every connection once it opens (its sends go
 * out at once). It cannot fail: a re-join that may fail decides itself what a failure means.
 * @since 2.0.0
 * @category models
 */
export type OnConnect<In, Out, Req extends Requests, R> = (
  client: Client<In, Out, Req>
) => Effect.Effect<void, never, R>

/**
 * A client of `protocol` at `url` (`ws:` or `wss:`), connecting in the background; closed with its
 * scope. Fails with `ClientError` `"InvalidOptions"` for a bad URL or option, and `"Unsupported"`
 * when there is no `WebSocket` to use.
 * @since 2.0.0
 * @category constructors
 */
export const make: <In, Out, Req extends Requests = {}, SReq extends Requests = {}, R = never>(
  protocol: Protocol<In, Out, Req, SReq>,
  url: string,
  options?: Options<In, Out, Req, SReq, R>
) => Effect.Effect<Client<In, Out, Req>, ClientError, Scope.Scope | R> = internal.make as any
