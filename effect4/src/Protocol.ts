/**
 * Typed messages in and out: a route declares its protocol once, with `effect/Schema`, and its
 * handlers get decoded values and send checked, encoded ones.
 *
 * A protocol is two schemas: what the client sends (`incoming`) and what the server sends
 * (`outgoing`). `json` carries them as JSON in text frames; `binary` over bytes, for a format the app
 * brings (MessagePack, a length-prefixed layout: any `Schema<A, Uint8Array>`). `upgradeWebSocket`
 * takes the protocol and handlers whose `onMessage` receives `Decoded` values (with `CustomMessage`
 * and `ConnectionClosed` as before), and whose connection is a `Protocol.Connection<Out>`: `send`
 * takes only an `Out` (anything else is a compile error) and encodes it once.
 *
 * A frame that does not decode (not JSON, the wrong shape, a failed check, nested deeper than
 * the schema can follow, a key that could reach a prototype: see `json`) closes the connection with
 * 1007 and the reason "invalid message", which does not echo the payload and is not logged as an
 * error; the schema's error is not even formatted. With `onInvalid: "deliver"` the handler receives
 * an `Invalid` message instead (the error, cut at 1,024 characters, and the raw frame) and can
 * answer and go on. A binary frame on a JSON protocol, or a text
 * frame on a binary one, closes with 1003 (`strictFrames: false` treats it as invalid instead).
 * Either way, the connection's other messages and every other connection are unaffected. The plain
 * API stays underneath: `Connection.sendText` works on a typed connection too.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Protocol, Upgrade } from "effect-websocket"
 *
 * const Chat = Protocol.json({
 *   incoming: Schema.Struct({ type: Schema.Literal("say"), text: Schema.String }),
 *   outgoing: Schema.Struct({ type: Schema.Literal("said"), text: Schema.String, length: Schema.Number })
 * })
 *
 * const route = Protocol.upgradeWebSocket(Chat, {
 *   onInit: () => Effect.succeed(Upgrade.initial(null)),
 *   onMessage: (state, message, connection) =>
 *     message._tag === "Decoded"
 *       ? Effect.as(
 *         Protocol.send(connection, { type: "said", text: message.value.text, length: message.value.text.length }),
 *         Action.continueConnection(state)
 *       )
 *       : Effect.succeed(Action.continueConnection(state)),
 *   onClose: () => Effect.void
 * })
 * ```
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Acceptor from "./Acceptor.js"
import { type Action, stopConnectionWith } from "./Action.js"
import * as Broadcast from "./Broadcast.js"
import type { CloseInfo, Connection as PlainConnection, SendError } from "./Connection.js"
import * as internal from "./internal/protocol.js"
import type { ConnectionClosed, CustomMessage, Message as PlainMessage } from "./Message.js"
import * as Upgrade from "./Upgrade.js"

/**
 * Unique identifier of `Protocol` values.
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A route's protocol: `In` is what the client sends, decoded; `Out` what the server sends, before
 * encoding. Built by `json` or `binary`. Its functions return a `Result` (an `Either` in 1.x).
 * @since 2.0.0
 * @category models
 */
export interface Protocol<In, Out, Req extends Requests = {}, SReq extends Requests = {}>
  extends internal.Protocol<In, Out>
{
  /** Type-level only: the requests each side may send (see `json`'s `requests`). */
  readonly "~effect-websocket/Protocol/Requests"?: { readonly client: Req; readonly server: SReq } | undefined
}

/**
 * One request a protocol declares: the schema of its payload, of the success it is answered with,
 * and of the failure (none when left out). Each is a `Schema.Codec` over JSON values, without
 * services, as `incoming` is; `Schema.Void` for a payload or a success that carries nothing (Effect
 * 4's `Schema.Void` decodes any value to `undefined`, so a payload sent where none is declared is
 * ignored rather than refused).
 * @since 2.0.0
 * @category models
 */
export interface RequestSchemas extends internal.RequestSchemas {}

/**
 * Requests by name, as `json` takes them.
 * @since 2.0.0
 * @category models
 */
export type Requests = Readonly<Record<string, RequestSchemas>>

/**
 * The requests the client may send, in a protocol's terms: `Protocol.ClientRequests<typeof Chat>`.
 * @since 2.0.0
 * @category models
 */
export type ClientRequests<P> = P extends Protocol<infer _In, infer _Out, infer Req, infer _SReq> ? Req : never

/**
 * The requests the server may send, in a protocol's terms.
 * @since 2.0.0
 * @category models
 */
export type ServerRequests<P> = P extends Protocol<infer _In, infer _Out, infer _Req, infer SReq> ? SReq : never

/**
 * The payload of request `K`, decoded.
 * @since 2.0.0
 * @category models
 */
export type PayloadOf<Req extends Requests, K extends keyof Req> = Schema.Schema.Type<Req[K]["payload"]>

/**
 * What request `K` succeeds with, decoded.
 * @since 2.0.0
 * @category models
 */
export type SuccessOf<Req extends Requests, K extends keyof Req> = Schema.Schema.Type<Req[K]["success"]>

/**
 * What request `K` fails with, decoded (`never` when it declares no failure).
 * @since 2.0.0
 * @category models
 */
export type FailureOf<Req extends Requests, K extends keyof Req> = Req[K] extends
  { readonly failure: Schema.Schema<infer F> } ? F : never

/**
 * A request from the client, decoded, as `onMessage` receives it: `name` tells which, `payload` is
 * typed by it once the name is checked. Answer with `reply`.
 * @since 2.0.0
 * @category models
 */
export interface Request<Name extends string = string, Payload = unknown, Success = unknown, Failure = unknown>
  extends internal.Request<Name, Payload, Success, Failure>
{}

/**
 * Every request of a protocol's `requests`, as a union `onMessage` can narrow by `name`.
 * @since 2.0.0
 * @category models
 */
export type RequestOf<Req extends Requests> = {
  readonly [K in keyof Req & string]: Request<K, PayloadOf<Req, K>, SuccessOf<Req, K>, FailureOf<Req, K>>
}[keyof Req & string]

/**
 * A request got no usable reply: `"Timeout"` (none within the timeout), `"Closed"` (the connection
 * ended first), `"InvalidReply"` (one came that does not decode with the request's schemas; `error`
 * is the schema's issue as `SchemaIssue.makeFormatterDefault()` formats it).
 * @since 2.0.0
 * @category errors
 */
export const RequestError: typeof internal.RequestError = internal.RequestError

/**
 * @since 2.0.0
 * @category errors
 */
export type RequestError = internal.RequestError

/**
 * What the client sends, decoded, in a protocol's terms: `Protocol.Incoming<typeof Chat>`.
 * @since 0.1.0
 * @category models
 */
export type Incoming<P> = P extends Protocol<infer In, infer _Out> ? In : never

/**
 * What the server sends, before encoding: `Protocol.Outgoing<typeof Chat>`.
 * @since 0.1.0
 * @category models
 */
export type Outgoing<P> = P extends Protocol<infer _In, infer Out> ? Out : never

/**
 * JSON in text frames: `incoming` decodes what `JSON.parse` makes of a frame, `outgoing` encodes a
 * value to what `JSON.stringify` writes.
 *
 * Hardened against hostile input, on the same terms for the test kit's typed client:
 * - **Prototype keys are refused.** A frame with a key `__proto__`, or a key `constructor` whose
 *   value is an object with a `prototype` key, anywhere in the value (escaped spellings such as
 *   `"\u005f\u005fproto__"` included), is invalid (1007, or `Invalid` with `onInvalid: "deliver"`),
 *   as secure-json-parse refuses it by default: `JSON.parse` keeps such a key as plain data (and so
 *   does Effect 4's `Schema.Record`), but code that copies the value by assignment
 *   (`Object.assign`, `out[key] = value`) would set the copy's prototype. Only a frame whose text
 *   contains one of the names (or a `\u00` escape that spells one) is searched.
 * - **Depth is bounded by the stack, not by a limit.** `JSON.parse` takes any depth; a value deeper
 *   than a recursive schema can follow, or whose error is too deep to describe, is invalid like any
 *   other (1007, or `Invalid` with a fixed sentence), never a defect (1011). A deep value the schema
 *   takes as it is (`Schema.Unknown`) is decoded.
 * - **What JSON cannot carry is not sent.** A value `JSON.stringify` would not write as itself fails
 *   with `EncodeError` instead of sending a frame the outgoing schema does not describe: a
 *   non-finite number (`NaN`, `Infinity`) anywhere, `undefined`, a function or a symbol in an array
 *   (all written as `null`), a bigint, a cycle, a value too deep to write. A property whose value is
 *   `undefined` is left out, as `JSON.stringify` does.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-websocket"
 *
 * const Settings = Protocol.json({
 *   incoming: Schema.Struct({ type: Schema.Literal("set"), data: Schema.Record(Schema.String, Schema.Unknown) }),
 *   outgoing: Schema.Struct({ type: Schema.Literal("ratio"), value: Schema.Number })
 * })
 * // {"type":"set","data":{"__proto__":{"isAdmin":true}}} closes with 1007, and
 * // Protocol.send(connection, { type: "ratio", value: 1 / 0 }) fails with EncodeError
 * ```
 * @since 2.0.0
 * @category constructors
 */
export const json: <In, InEncoded, Out, OutEncoded, const Req extends Requests = {}, const SReq extends Requests = {}>(
  schemas: {
    readonly incoming: Schema.Codec<In, InEncoded>
    readonly outgoing: Schema.Codec<Out, OutEncoded>
    /** What the client may ask the server, by name: answered in `onMessage` with `reply`. */
    readonly requests?: Req | undefined
    /** What the server may ask the client, by name, with `request`: answered by the `Client`'s `onRequest`. */
    readonly serverRequests?: SReq | undefined
  }
) => Protocol<In, Out, Req, SReq> = internal.json as any

/**
 * Bytes in binary frames: each schema transforms a frame's bytes (`Uint8Array`) to a value and back,
 * in the format the app brings (MessagePack, a length-prefixed layout...): a `Schema.Codec<A, Uint8Array>`
 * without services, such as `Schema.Uint8Array.pipe(Schema.decodeTo(...))`.
 * @since 2.0.0
 * @category constructors
 */
export const binary: <In, Out>(
  schemas: { readonly incoming: Schema.Codec<In, Uint8Array>; readonly outgoing: Schema.Codec<Out, Uint8Array> }
) => Protocol<In, Out> = internal.binary

/**
 * A frame that the protocol decoded: what the client sent, typed.
 * @since 0.1.0
 * @category models
 */
export interface Decoded<In> extends internal.Decoded<In> {}

/**
 * A frame that did not decode, delivered with `onInvalid: "deliver"`: `error` is the schema's issue
 * as `SchemaIssue.makeFormatterDefault()` formats it (cut at 1,024 characters; it says what was
 * expected and where, without the value received), or a fixed sentence for a frame that is not JSON,
 * holds a prototype key or is nested too deeply to decode or describe; `raw` is the frame (a string
 * for a text frame, bytes for a binary one).
 * @since 2.0.0
 * @category models
 */
export interface Invalid extends internal.Invalid {}

/**
 * What a typed route's `onMessage` receives.
 * @since 0.1.0
 * @category models
 */
export type Message<In, Custom = never, Req = never> =
  | Decoded<In>
  | Invalid
  | CustomMessage<Custom>
  | ConnectionClosed
  | Req

/**
 * What a typed route's `onMessage` receives when frames that do not decode close the connection
 * (`onInvalid: "close"`, the default): no `Invalid`, which never reaches it.
 * @since 0.1.0
 * @category models
 */
export type Valid<In, Custom = never, Req = never> = Exclude<Message<In, Custom, Req>, Invalid>

/**
 * A connection of a route whose server sends `Out` values: `send` takes only those. It is a plain
 * `Connection` too.
 * @since 0.1.0
 * @category models
 */
export interface Connection<Out, SReq extends Requests = {}> extends PlainConnection {
  /** Type-level only: the values `send` accepts. */
  readonly "~effect-websocket/Protocol/Out": (value: Out) => void
  /** Type-level only: the requests `request` may send. */
  readonly "~effect-websocket/Protocol/ServerRequests"?: SReq | undefined
}

/**
 * A value did not encode with the protocol's outgoing schema (a check failed, say), or has no
 * faithful JSON form (a non-finite number, `undefined` in an array, a bigint: see `json`): nothing
 * was sent. `error` is the schema's issue as `SchemaIssue.makeFormatterDefault()` formats it (cut at
 * 1,024 characters) or says what JSON could not carry, and where.
 * @since 2.0.0
 * @category errors
 */
export const EncodeError: typeof internal.EncodeError = internal.EncodeError

/**
 * @since 0.1.0
 * @category errors
 */
export type EncodeError = internal.EncodeError

/**
 * Encodes `value` with the connection's protocol and sends it (a text frame for JSON, a binary frame
 * for bytes). Fails with `EncodeError` if it does not encode (for JSON, also when `JSON.stringify`
 * would not write it as itself, as `NaN` becomes `null`), and with `SendError` as `sendText` does.
 * @since 0.1.0
 * @category sending
 */
export const send: {
  /**
   * @since 0.1.0
   */
  <Out>(connection: Connection<Out>, value: NoInfer<Out>): Effect.Effect<void, SendError | EncodeError>
  /**
   * @since 0.1.0
   */
  <const Out>(value: Out): (connection: Connection<Out>) => Effect.Effect<void, SendError | EncodeError>
} = dual(
  (args) => args.length === 2,
  <Out>(connection: Connection<Out>, value: Out): Effect.Effect<void, SendError | EncodeError> =>
    internal.send(connection, value)
)

/**
 * Encodes `value` once and publishes it to `topic` (see `Broadcast.publish`): every subscriber gets
 * the same frame. Fails with `EncodeError` as `send` does, before anything is published.
 * @since 0.1.0
 * @category sending
 */
export const publish: {
  /**
   * @since 0.1.0
   */
  <const V>(
    topic: string,
    value: V,
    options?: { readonly except?: PlainConnection | undefined }
  ): <In, Out>(
    // the value must be an outgoing message of the protocol: otherwise a second argument is missing
    ...protocol: [V] extends [Out] ? [protocol: Protocol<In, Out>]
      : [protocol: Protocol<In, Out>, valueIsNotAnOutgoingMessage: never]
  ) => Effect.Effect<void, EncodeError | Broadcast.BroadcastError, Broadcast.Broadcast>
  /**
   * @since 0.1.0
   */
  <In, Out>(
    protocol: Protocol<In, Out>,
    topic: string,
    value: NoInfer<Out>,
    options?: { readonly except?: PlainConnection | undefined }
  ): Effect.Effect<void, EncodeError | Broadcast.BroadcastError, Broadcast.Broadcast>
} = dual(
  (args) => isProtocol(args[0]),
  <In, Out>(
    protocol: Protocol<In, Out>,
    topic: string,
    value: Out,
    options?: { readonly except?: PlainConnection | undefined }
  ): Effect.Effect<void, EncodeError | Broadcast.BroadcastError, Broadcast.Broadcast> =>
    Effect.suspend((): Effect.Effect<void, EncodeError | Broadcast.BroadcastError, Broadcast.Broadcast> => {
      const encoded = protocol.encode(value)
      return Result.isFailure(encoded)
        ? Effect.fail(new internal.EncodeError({ error: encoded.failure }))
        : Broadcast.publish(topic, encoded.success, options)
    })
)

/**
 * Answers a request from the client: runs `result` and sends its success, or its failure (typed by
 * the request's `failure` schema), as the reply the client's `request` waits for. A request is
 * answered once: a second `reply` to it sends nothing. A request nobody answers leaves the client
 * waiting until its timeout. Fails with `EncodeError` when the answer does not encode (nothing is
 * sent, and the request may still be answered), and with `SendError` as `send` does.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Protocol, Upgrade } from "effect-websocket"
 *
 * const Rooms = Protocol.json({
 *   incoming: Schema.Never,
 *   outgoing: Schema.Never,
 *   requests: {
 *     join: {
 *       payload: Schema.Struct({ room: Schema.String }),
 *       success: Schema.Struct({ members: Schema.Number }),
 *       failure: Schema.Struct({ refused: Schema.String })
 *     }
 *   }
 * })
 *
 * const route = Protocol.upgradeWebSocket(Rooms, {
 *   onInit: () => Effect.succeed(Upgrade.initial(null)),
 *   onMessage: (state, message, connection) =>
 *     message._tag === "Request" && message.name === "join"
 *       ? Protocol.reply(
 *         connection,
 *         message,
 *         message.payload.room === "staff" ? Effect.fail({ refused: "staff only" }) : Effect.succeed({ members: 3 })
 *       ).pipe(Effect.as(Action.continueConnection(state)), Effect.orDie)
 *       : Effect.succeed(Action.continueConnection(state)),
 *   onClose: () => Effect.void
 * })
 * ```
 * @since 2.0.0
 * @category requests
 */
export const reply: <Name extends string, Payload, S, F, R>(
  connection: PlainConnection,
  request: Request<Name, Payload, S, F>,
  result: Effect.Effect<NoInfer<S>, NoInfer<F>, R>
) => Effect.Effect<void, SendError | EncodeError, R> = internal.reply

/**
 * Sends the client a request declared in the protocol's `serverRequests` and waits for its reply:
 * succeeds with the decoded success, fails with the decoded failure, or with `RequestError`
 * (`"Timeout"` after `timeout`, 10 seconds by default; `"Closed"` when the connection ends first;
 * `"InvalidReply"`). The reply does not go through the loop, so a handler may wait for it.
 * @since 2.0.0
 * @category requests
 */
export const request: <SReq extends Requests, const K extends keyof SReq & string>(
  connection: Connection<any, SReq>,
  name: K,
  payload: PayloadOf<SReq, K>,
  options?: { readonly timeout?: Duration.Input | undefined }
) => Effect.Effect<SuccessOf<SReq, K>, FailureOf<SReq, K> | RequestError | SendError | EncodeError> = internal
  .request as any

/**
 * Is this value a `Protocol`?
 * @since 0.1.0
 * @category guards
 */
export const isProtocol = (u: unknown): u is Protocol<unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * A typed route's handlers, as `Upgrade.HandlersFor` with decoded messages and a typed connection.
 * @since 0.1.0
 * @category models
 */
export interface Handlers<
  State,
  In,
  Out,
  Custom,
  EInit,
  RInit,
  E,
  R,
  RClose,
  M = Message<In, Custom>,
  SReq extends Requests = {}
> {
  readonly onInit: (
    connection: Connection<Out, SReq>
  ) => Effect.Effect<readonly [State, Option.Option<Stream.Stream<Custom, EInit, RInit>>], EInit, RInit>
  readonly onMessage: (
    state: State,
    message: M,
    connection: Connection<Out, SReq>
  ) => Effect.Effect<Action<NoInfer<State>, Custom, E, R>, E, R>
  readonly onClose: (
    state: State,
    info: CloseInfo,
    connection: Connection<Out, SReq>
  ) => Effect.Effect<void, never, RClose>
}

/**
 * A typed route's options: the upgrade's, and what to do with frames that do not decode.
 * @since 0.1.0
 * @category models
 */
export interface Options extends Upgrade.Options {
  /**
   * A frame that does not decode: `"close"` closes with 1007 "invalid message" (the default);
   * `"deliver"` hands an `Invalid` message to `onMessage`.
   */
  readonly onInvalid?: "close" | "deliver" | undefined
  /**
   * A frame of the other kind (binary on a JSON protocol, text on a binary one) closes with 1003
   * (the default, `true`); with `false` it is an invalid frame, handled as `onInvalid` says.
   */
  readonly strictFrames?: boolean | undefined
}

/** The route a typed `upgradeWebSocket` returns. */
type Route<R> = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  Upgrade.OptionsError,
  HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Exclude<R, Scope.Scope>
>

/**
 * `Upgrade.upgradeWebSocket` for a route that speaks `protocol`: the handlers receive decoded
 * messages and a connection that sends `Out` values. With `onInvalid: "close"` (the default) the
 * messages are `Valid`: a frame that does not decode never reaches `onMessage`; with
 * `onInvalid: "deliver"` they may be `Invalid` too.
 * @since 0.1.0
 * @category constructors
 */
export function upgradeWebSocket<
  State,
  In,
  Out,
  Custom = never,
  EInit = never,
  RInit = never,
  E = never,
  R = never,
  RClose = never,
  Req extends Requests = {},
  SReq extends Requests = {}
>(
  protocol: Protocol<In, Out, Req, SReq>,
  handlers: Handlers<State, In, Out, Custom, EInit, RInit, E, R, RClose, Valid<In, Custom, RequestOf<Req>>, SReq>,
  options?: Options & { readonly onInvalid?: "close" | undefined }
): Route<RInit | R | RClose>
export function upgradeWebSocket<
  State,
  In,
  Out,
  Custom = never,
  EInit = never,
  RInit = never,
  E = never,
  R = never,
  RClose = never,
  Req extends Requests = {},
  SReq extends Requests = {}
>(
  protocol: Protocol<In, Out, Req, SReq>,
  handlers: Handlers<State, In, Out, Custom, EInit, RInit, E, R, RClose, Message<In, Custom, RequestOf<Req>>, SReq>,
  options: Options
): Route<RInit | R | RClose>
export function upgradeWebSocket<State, In, Out, Custom, EInit, RInit, E, R, RClose>(
  protocol: Protocol<In, Out, any, any>,
  handlers: Handlers<State, In, Out, Custom, EInit, RInit, E, R, RClose, any>,
  options?: Options
): Route<RInit | R | RClose> {
  const { onInvalid = "close", strictFrames = true, ...upgrade } = options ?? {}
  const wrap = { onInvalid, strictFrames }
  const typed = (connection: PlainConnection) => connection as Connection<Out>
  const onMessage = internal.wrapMessage(
    protocol,
    wrap,
    (state: State, message, connection: PlainConnection) =>
      handlers.onMessage(state, message as Message<In, Custom>, typed(connection)),
    (code, reason) => Effect.orDie(stopConnectionWith(code, reason))
  )
  return Upgrade.upgradeWebSocket<State, Custom, EInit, RInit, E, R, RClose>({
    onInit: (connection) => {
      internal.protocolOf.set(connection, protocol as Protocol<unknown, unknown>)
      internal.install(connection, protocol as Protocol<unknown, unknown>)
      return handlers.onInit(typed(connection))
    },
    onMessage: (state, message, connection) =>
      onMessage(state, message as PlainMessage<unknown>, connection) as Effect.Effect<
        Action<State, Custom, E, R>,
        E,
        R
      >,
    onClose: (state, info, connection) => handlers.onClose(state, info, typed(connection))
  }, upgrade)
}
