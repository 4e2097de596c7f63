/**
 * Typed protocols: schemas over the frames of a route. The loop and the transports are unchanged:
 * the route's handlers are wrapped so that frames are decoded before `onMessage` and values encoded
 * on the way out.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Action } from "../Action.js"
import type { Connection as PlainConnection, SendError } from "../Connection.js"
import type { Message as PlainMessage } from "../Message.js"
import * as Close from "./close.js"

export const TypeId: unique symbol = Symbol.for("effect-websocket/Protocol")

export class EncodeError extends Data.TaggedError("EncodeError")<{
  /** What the schema said, formatted. */
  readonly error: string
}> {
  override get message(): string {
    return `the value does not encode with the protocol's outgoing schema: ${this.error}`
  }
}

export interface Protocol<In, Out> {
  readonly [TypeId]: typeof TypeId
  readonly frames: "text" | "binary"
  readonly decode: (data: string | Uint8Array) => Either.Either<In, string>
  readonly encode: (value: Out) => Either.Either<string | Uint8Array, string>
  /** The client's side, for the test kit: what a client sends, and what it reads. */
  readonly encodeIncoming: (value: In) => Either.Either<string | Uint8Array, string>
  readonly decodeOutgoing: (data: string | Uint8Array) => Either.Either<Out, string>
}

const formatted = (error: ParseResult.ParseError): string => ParseResult.TreeFormatter.formatErrorSync(error)

/** A schema applied to JSON: parsed first, so that its errors speak of the value, not of the JSON. */
const jsonCodec = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema)
  const encode = Schema.encodeEither(schema)
  return {
    decode: (data: string | Uint8Array): Either.Either<A, string> => {
      let json: unknown
      try {
        json = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data))
      } catch (error) {
        return Either.left(`not JSON: ${(error as Error).message}`)
      }
      const decoded = decode(json)
      // a Right carries no error: the same object serves
      return Either.isRight(decoded)
        ? decoded as unknown as Either.Either<A, string>
        : Either.left(formatted(decoded.left))
    },
    encode: (value: A): Either.Either<string, string> => {
      const encoded = encode(value)
      if (Either.isLeft(encoded)) return Either.left(formatted(encoded.left))
      try {
        // a value JSON refuses (a bigint, a cycle) is an error, not a defect
        return Either.right(JSON.stringify(encoded.right))
      } catch (error) {
        return Either.left(`not JSON: ${(error as Error).message}`)
      }
    }
  }
}

export const json = <In, InEncoded, Out, OutEncoded>(
  schemas: { readonly incoming: Schema.Schema<In, InEncoded>; readonly outgoing: Schema.Schema<Out, OutEncoded> }
): Protocol<In, Out> => {
  const incoming = jsonCodec(schemas.incoming)
  const outgoing = jsonCodec(schemas.outgoing)
  return {
    [TypeId]: TypeId,
    frames: "text",
    decode: incoming.decode,
    encode: outgoing.encode,
    encodeIncoming: incoming.encode,
    decodeOutgoing: outgoing.decode
  }
}

export const binary = <In, Out>(
  schemas: { readonly incoming: Schema.Schema<In, Uint8Array>; readonly outgoing: Schema.Schema<Out, Uint8Array> }
): Protocol<In, Out> => {
  const decode = Schema.decodeUnknownEither(schemas.incoming)
  const encode = Schema.encodeEither(schemas.outgoing)
  const encodeIncoming = Schema.encodeEither(schemas.incoming)
  const decodeOutgoing = Schema.decodeUnknownEither(schemas.outgoing)
  return {
    [TypeId]: TypeId,
    frames: "binary",
    decode: (data) => Either.mapLeft(decode(data), formatted),
    encode: (value) => Either.mapLeft(encode(value), formatted),
    encodeIncoming: (value) => Either.mapLeft(encodeIncoming(value), formatted),
    decodeOutgoing: (data) => Either.mapLeft(decodeOutgoing(data), formatted)
  }
}

/** A frame decoded by the route's protocol. */
export interface Decoded<In> {
  readonly _tag: "Decoded"
  readonly value: In
}

/** A frame that did not decode (with `onInvalid: "deliver"`): the schema's error and the frame. */
export interface Invalid {
  readonly _tag: "Invalid"
  readonly error: string
  readonly raw: string | Uint8Array
}

/** What the typed layer keeps of a connection: its protocol, for `send`. */
export const protocolOf = new WeakMap<PlainConnection, Protocol<unknown, unknown>>()

export const send = <Out>(connection: PlainConnection, value: Out): Effect.Effect<void, SendError | EncodeError> =>
  Effect.suspend((): Effect.Effect<void, SendError | EncodeError> => {
    const protocol = protocolOf.get(connection) as Protocol<unknown, Out> | undefined
    if (protocol === undefined) return Effect.dieMessage("Protocol.send: this connection's route has no protocol")
    const encoded = protocol.encode(value)
    if (Either.isLeft(encoded)) return Effect.fail(new EncodeError({ error: encoded.left }))
    const connectionImpl = connection as unknown as {
      send: (binary: boolean, data: string | Uint8Array) => Effect.Effect<void, SendError>
    }
    return connectionImpl.send(typeof encoded.right !== "string", encoded.right)
  })

export interface WrapOptions {
  readonly onInvalid: "close" | "deliver"
  readonly strictFrames: boolean
}

const invalidClose = { code: Close.InvalidPayload, reason: "invalid message" } as const
const unsupported = { code: 1003, reason: "unsupported frame type" } as const

type AnyAction = Action<unknown, unknown, unknown, unknown>

/**
 * What `onMessage` does with a plain message: decode a data frame and hand it on, or close (1007 for
 * a frame that does not decode, 1003 for the wrong kind of frame), or hand on the failure. Built
 * once per route: the hot path allocates nothing of its own beyond the decoded message.
 */
export const wrapMessage = <In, Out, State, Connection>(
  protocol: Protocol<In, Out>,
  options: WrapOptions,
  handle: (
    state: State,
    message: Decoded<In> | Invalid | PlainMessage<unknown>,
    connection: Connection
  ) => Effect.Effect<AnyAction, unknown, unknown>,
  stop: (code: number, reason: string) => Effect.Effect<AnyAction>
) => {
  const wrongKind = stop(unsupported.code, unsupported.reason)
  const invalid = stop(invalidClose.code, invalidClose.reason)
  return (
    state: State,
    message: PlainMessage<unknown>,
    connection: Connection
  ): Effect.Effect<AnyAction, unknown, unknown> => {
    switch (message._tag) {
      case "TextMessage":
      case "BinaryMessage": {
        const raw = message._tag === "TextMessage" ? message.text : message.data
        const rightKind = (message._tag === "TextMessage") === (protocol.frames === "text")
        if (!rightKind && options.strictFrames) return wrongKind
        const decoded = rightKind
          ? protocol.decode(raw)
          : Either.left(
            `a ${message._tag === "TextMessage" ? "text" : "binary"} frame on a ${protocol.frames} protocol`
          )
        if (Either.isRight(decoded)) return handle(state, { _tag: "Decoded", value: decoded.right }, connection)
        if (options.onInvalid === "close") return invalid
        return handle(state, { _tag: "Invalid", error: decoded.left, raw }, connection)
      }
      default:
        return handle(state, message, connection)
    }
  }
}
