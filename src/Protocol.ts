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
 * A frame that does not decode (not JSON, the wrong shape, a failed refinement) closes the
 * connection with 1007 and the reason "invalid message", which does not echo the payload; with
 * `onInvalid: "deliver"` the handler receives an `Invalid` message instead (the schema's formatted
 * error and the raw frame) and can answer and go on. A binary frame on a JSON protocol, or a text
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
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Option from "effect/Option"
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
 * encoding. Built by `json` or `binary`.
 * @since 0.1.0
 * @category models
 */
export interface Protocol<In, Out> extends internal.Protocol<In, Out> {}

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
 * @since 0.1.0
 * @category constructors
 */
export const json: <In, InEncoded, Out, OutEncoded>(
  schemas: { readonly incoming: Schema.Schema<In, InEncoded>; readonly outgoing: Schema.Schema<Out, OutEncoded> }
) => Protocol<In, Out> = internal.json

/**
 * Bytes in binary frames: each schema transforms a frame's bytes (`Uint8Array`) to a value and back,
 * in the format the app brings (MessagePack, a length-prefixed layout...).
 * @since 0.1.0
 * @category constructors
 */
export const binary: <In, Out>(
  schemas: { readonly incoming: Schema.Schema<In, Uint8Array>; readonly outgoing: Schema.Schema<Out, Uint8Array> }
) => Protocol<In, Out> = internal.binary

/**
 * A frame that the protocol decoded: what the client sent, typed.
 * @since 0.1.0
 * @category models
 */
export interface Decoded<In> extends internal.Decoded<In> {}

/**
 * A frame that did not decode, delivered with `onInvalid: "deliver"`: `error` is the schema's
 * formatted error, `raw` the frame (a string for a text frame, bytes for a binary one).
 * @since 0.1.0
 * @category models
 */
export interface Invalid extends internal.Invalid {}

/**
 * What a typed route's `onMessage` receives.
 * @since 0.1.0
 * @category models
 */
export type Message<In, Custom = never> = Decoded<In> | Invalid | CustomMessage<Custom> | ConnectionClosed

/**
 * A connection of a route whose server sends `Out` values: `send` takes only those. It is a plain
 * `Connection` too.
 * @since 0.1.0
 * @category models
 */
export interface Connection<Out> extends PlainConnection {
  /** Type-level only: the values `send` accepts. */
  readonly "~effect-websocket/Protocol/Out": (value: Out) => void
}

/**
 * A value did not encode with the protocol's outgoing schema (a refinement failed, say): nothing was
 * sent. `error` is the schema's formatted error.
 * @since 0.1.0
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
 * for bytes). Fails with `EncodeError` if it does not encode, and with `SendError` as `sendText`
 * does.
 * @since 0.1.0
 * @category sending
 */
export const send: <Out>(
  connection: Connection<Out>,
  value: NoInfer<Out>
) => Effect.Effect<void, SendError | EncodeError> = internal.send

/**
 * Encodes `value` once and publishes it to `topic` (see `Broadcast.publish`): every subscriber gets
 * the same frame.
 * @since 0.1.0
 * @category sending
 */
export const publish = <In, Out>(
  protocol: Protocol<In, Out>,
  topic: string,
  value: NoInfer<Out>,
  options?: { readonly except?: PlainConnection | undefined }
): Effect.Effect<void, EncodeError | Broadcast.BroadcastError, Broadcast.Broadcast> =>
  Effect.suspend((): Effect.Effect<void, EncodeError | Broadcast.BroadcastError, Broadcast.Broadcast> => {
    const encoded = protocol.encode(value)
    return Either.isLeft(encoded)
      ? Effect.fail(new internal.EncodeError({ error: encoded.left }))
      : Broadcast.publish(topic, encoded.right, options)
  })

/**
 * A typed route's handlers, as `Upgrade.HandlersFor` with decoded messages and a typed connection.
 * @since 0.1.0
 * @category models
 */
export interface Handlers<State, In, Out, Custom, EInit, RInit, E, R, RClose> {
  readonly onInit: (
    connection: Connection<Out>
  ) => Effect.Effect<readonly [State, Option.Option<Stream.Stream<Custom, EInit, RInit>>], EInit, RInit>
  readonly onMessage: (
    state: State,
    message: Message<In, Custom>,
    connection: Connection<Out>
  ) => Effect.Effect<Action<NoInfer<State>, Custom, E, R>, E, R>
  readonly onClose: (state: State, info: CloseInfo, connection: Connection<Out>) => Effect.Effect<void, never, RClose>
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

/**
 * `Upgrade.upgradeWebSocket` for a route that speaks `protocol`: the handlers receive decoded
 * messages and a connection that sends `Out` values.
 * @since 0.1.0
 * @category constructors
 */
export const upgradeWebSocket = <
  State,
  In,
  Out,
  Custom = never,
  EInit = never,
  RInit = never,
  E = never,
  R = never,
  RClose = never
>(
  protocol: Protocol<In, Out>,
  handlers: Handlers<State, In, Out, Custom, EInit, RInit, E, R, RClose>,
  options?: Options
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  Upgrade.OptionsError,
  HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Exclude<RInit | R | RClose, Scope.Scope>
> => {
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
