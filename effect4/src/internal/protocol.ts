/**
 * Typed protocols: schemas over the frames of a route. The loop and the transports are unchanged:
 * the route's handlers are wrapped so that frames are decoded before `onMessage` and values encoded
 * on the way out.
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { constant, type LazyArg } from "effect/Function"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import type { Action } from "../Action.js"
import type { Connection as PlainConnection, SendError } from "../Connection.js"
import type { Message as PlainMessage } from "../Message.js"
import * as Close from "./core/close.js"
import * as Envelope from "./core/envelope.js"

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
  /** The failure is described only when read: closing with 1007 formats nothing. */
  readonly decode: (data: string | Uint8Array) => Result.Result<In, LazyArg<string>>
  readonly encode: (value: Out) => Result.Result<string | Uint8Array, string>
  /** The client's side, for the test kit: what a client sends, and what it reads. */
  readonly encodeIncoming: (value: In) => Result.Result<string | Uint8Array, string>
  readonly decodeOutgoing: (data: string | Uint8Array) => Result.Result<Out, string>
  /** What the client may ask the server, by name (JSON protocols only). */
  readonly requests: Readonly<Record<string, RequestCodec>> | undefined
  /** What the server may ask the client, by name (JSON protocols only). */
  readonly serverRequests: Readonly<Record<string, RequestCodec>> | undefined
}

/** One request's schemas, as a protocol declares them: codecs over JSON values, without services. */
export interface RequestSchemas {
  readonly payload: Schema.Codec<any, any>
  readonly success: Schema.Codec<any, any>
  readonly failure?: Schema.Codec<any, any> | undefined
}

/** One request's schemas over JSON values: the envelope (core/envelope.ts) carries the texts. */
export interface RequestCodec {
  readonly decodePayload: (json: unknown) => Result.Result<unknown, LazyArg<string>>
  readonly encodePayload: (value: unknown) => Result.Result<string | undefined, string>
  readonly decodeReply: (ok: boolean, json: unknown) => Result.Result<unknown, LazyArg<string>>
  readonly encodeReply: (ok: boolean, value: unknown) => Result.Result<string | undefined, string>
}

/** A request got no usable reply: none in time, the connection ended first, or one that does not decode. */
export class RequestError extends Data.TaggedError("RequestError")<{
  readonly reason: "Timeout" | "Closed" | "InvalidReply"
  /** The request's name. */
  readonly request: string
  /** With `InvalidReply`: what the schema said. */
  readonly error?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "Timeout":
        return `no reply to the request "${this.request}" within its timeout`
      case "Closed":
        return `the connection ended before the request "${this.request}" had its reply`
      case "InvalidReply":
        return `the reply to the request "${this.request}" does not decode: ${this.error}`
    }
  }
}

/** The longest error text kept: a peer's frame, and so the schema's account of it, can be megabytes. */
const maxErrorLength = 1024

const bounded = (text: string): string => {
  if (text.length <= maxErrorLength) return text
  // a cut between the halves of a surrogate pair would leave half a character
  const end = maxErrorLength - (/[\uD800-\uDBFF]/.test(text[maxErrorLength - 1]) ? 1 : 0)
  return `${text.slice(0, end)}… (${text.length - end} more characters)`
}

const isOverflow = (thrown: unknown): boolean =>
  thrown instanceof RangeError || (thrown instanceof Error && thrown.name === "InternalError")

/**
 * A stack overflow: V8 and JavaScriptCore throw a RangeError, SpiderMonkey an InternalError. The
 * schema's synchronous parsers run an Effect, and a defect in it (the overflow) comes out as an
 * `Error` whose `cause` is the `Cause`; an overflow outside the fiber comes out as it is.
 */
const isStackOverflow = (error: unknown): boolean =>
  isOverflow(error) ||
  (error instanceof Error && Cause.isCause(error.cause) &&
    error.cause.reasons.some((reason) => Cause.isDieReason(reason) && isOverflow(reason.defect)))

const tooDeep = "the value is nested too deeply to decode"
const tooDeepToDescribe = "the value does not decode, and is nested too deeply to describe"
const tooDeepToEncode = "the value is nested too deeply to encode"

const formatIssue = SchemaIssue.makeFormatterDefault()

/** The schema's error, formatted; an issue too deep for the formatter's recursion gets a fixed sentence. */
const formatted = (issue: SchemaIssue.Issue): string => {
  try {
    return bounded(formatIssue(issue))
  } catch (cause) {
    if (isStackOverflow(cause)) return tooDeepToDescribe
    // anything else is a bug in the schema (a throwing message annotation): a defect, as before
    throw cause
  }
}

/**
 * A schema's decoding, with its failure described only when read, and a stack overflow (a value
 * nested deeper than a recursive schema can follow) a failure instead of a defect.
 */
const decoder = <A, I>(schema: Schema.Codec<A, I>) => {
  const decode = SchemaParser.decodeUnknownResult(schema)
  return (input: unknown): Result.Result<A, LazyArg<string>> => {
    let decoded: Result.Result<A, SchemaIssue.Issue>
    try {
      decoded = decode(input)
    } catch (cause) {
      if (isStackOverflow(cause)) return Result.fail(constant(tooDeep))
      throw cause
    }
    if (Result.isSuccess(decoded)) {
      // a success carries no error: the same object serves
      return decoded as unknown as Result.Result<A, LazyArg<string>>
    }
    const issue = decoded.failure
    return Result.fail(() => formatted(issue))
  }
}

/** A schema's encoding, its error formatted, a stack overflow a failure as in `decoder`. */
const encoder = <A, I>(schema: Schema.Codec<A, I>) => {
  const encode = SchemaParser.encodeResult(schema)
  return (value: A): Result.Result<I, string> => {
    let encoded: Result.Result<I, SchemaIssue.Issue>
    try {
      encoded = encode(value)
    } catch (cause) {
      if (isStackOverflow(cause)) return Result.fail(tooDeepToEncode)
      throw cause
    }
    return Result.isSuccess(encoded)
      ? encoded as unknown as Result.Result<I, string>
      : Result.fail(formatted(encoded.failure))
  }
}

const described = <A>(result: Result.Result<A, LazyArg<string>>): Result.Result<A, string> =>
  Result.isSuccess(result) ? result as unknown as Result.Result<A, string> : Result.fail(result.failure())

const textDecoder = new TextDecoder()

/**
 * Every spelling of the two keys in a JSON text, escapes included (`\u005f\u005fproto__`): JSON
 * escapes only as `\uXXXX`, and both names are ASCII, so this is only looked for when the text has `\u00`.
 */
const escapedSuspect =
  /(?:_|\\u005[fF]){2}(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[fF])(?:t|\\u0074)(?:o|\\u006[fF])(?:_|\\u005[fF]){2}|(?:c|\\u0063)(?:o|\\u006[fF])(?:n|\\u006[eE])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[fF])(?:r|\\u0072)/

const mayReachPrototype = (text: string): boolean =>
  text.includes("__proto__") || text.includes("constructor") || (text.includes("\\u00") && escapedSuspect.test(text))

const hasOwn = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key)

/**
 * The first key of `json` (what `JSON.parse` made) that could reach a prototype once a decoder copies
 * it with `out[key] = value`, as secure-json-parse refuses them: `__proto__`, and `constructor`
 * holding an object with a `prototype`. Iterative: a value JSON.parse takes can be deeper than the stack.
 */
const prototypeKey = (json: unknown): string | undefined => {
  const pending: Array<unknown> = [json]
  while (pending.length > 0) {
    const value = pending.pop()
    if (typeof value !== "object" || value === null) continue
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === "object" && item !== null) pending.push(item)
      continue
    }
    if (hasOwn(value, "__proto__")) return `a "__proto__" key`
    const record = value as Record<string, unknown>
    if (hasOwn(value, "constructor")) {
      const constructor = record.constructor
      if (typeof constructor === "object" && constructor !== null && hasOwn(constructor, "prototype")) {
        return `a "constructor" key with a "prototype"`
      }
    }
    for (const key in record) {
      const item = record[key]
      if (typeof item === "object" && item !== null) pending.push(item)
    }
  }
  return undefined
}

type Path = { readonly key: string | number; readonly parent: Path } | undefined

const pathText = (path: Path): string => {
  let text = ""
  for (let at = path; at !== undefined; at = at.parent) text = `[${JSON.stringify(at.key)}]${text}`
  return text === "" ? "" : ` at ${text}`
}

/** What `JSON.stringify` writes for `value` under `key`: its `toJSON` (a `Date`'s), a boxed number's value. */
const jsonOf = (value: unknown, key: string | number): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return (value as { toJSON: (key: string) => unknown }).toJSON(String(key))
  }
  return value instanceof Number ? value.valueOf() : value
}

const nonFinite = (item: unknown): boolean => typeof item === "number" && !Number.isFinite(item)

/**
 * What of `value` `JSON.stringify` writes as `null` although it is not `null` (a non-finite number; an
 * `undefined`, a hole, a function or a symbol in an array), so that the frame would not be the value.
 * Only asked when the written JSON has a `null`, which each of these leaves. Iterative, as `prototypeKey`.
 */
const lossy = (value: unknown): string | undefined => {
  const root = jsonOf(value, "")
  if (nonFinite(root)) return String(root)
  const pending: Array<readonly [object, Path]> = typeof root === "object" && root !== null ? [[root, undefined]] : []
  while (pending.length > 0) {
    const [container, path] = pending.pop()!
    const isArray = Array.isArray(container)
    const keys: ReadonlyArray<string | number> = isArray ? Array.from(container.keys()) : Object.keys(container)
    for (const key of keys) {
      const item = jsonOf((container as Record<string | number, unknown>)[key], key)
      if (nonFinite(item)) return `${String(item)}${pathText({ key, parent: path })}`
      if (isArray && (item === undefined || typeof item === "function" || typeof item === "symbol")) {
        const what = item === undefined ? "undefined (or a hole)" : `a ${typeof item}`
        return `${what} in an array${pathText({ key, parent: path })}`
      }
      if (typeof item === "object" && item !== null) pending.push([item, { key, parent: path }])
    }
  }
  return undefined
}

/** A schema applied to JSON: parsed first, so that its errors speak of the value, not of the JSON. */
const jsonCodec = <A, I>(schema: Schema.Codec<A, I>) => {
  const decode = decoder(schema)
  const encode = encoder(schema)
  return {
    decode: (data: string | Uint8Array): Result.Result<A, LazyArg<string>> => {
      const text = typeof data === "string" ? data : textDecoder.decode(data)
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch (error) {
        return Result.fail(() => bounded(`not JSON: ${(error as Error).message}`))
      }
      const key = mayReachPrototype(text) ? prototypeKey(json) : undefined
      return key === undefined ? decode(json) : Result.fail(() => `refused: ${key}, which could reach a prototype`)
    },
    encode: (value: A): Result.Result<string, string> => {
      const encoded = encode(value)
      return Result.isFailure(encoded) ? Result.fail(encoded.failure) : jsonText(encoded.success)
    }
  }
}

/** What `JSON.stringify` writes for `value`, when that is the value: see `lossy`. */
const jsonText = (value: unknown): Result.Result<string, string> => {
  let text: string | undefined
  try {
    // a value JSON refuses (a bigint, a cycle, too deep) is an error, not a defect
    text = JSON.stringify(value)
  } catch (error) {
    return Result.fail(bounded(`not JSON: ${(error as Error).message}`))
  }
  if (text === undefined) return Result.fail("not JSON: undefined, a function or a symbol has no JSON form")
  // every value JSON would write as null leaves a "null" in the text: the walk is for those frames only
  const lost = text.includes("null") ? lossy(value) : undefined
  return lost === undefined ? Result.succeed(text) : Result.fail(bounded(`not JSON: ${lost} would be sent as null`))
}

/** A schema over a JSON value inside an envelope: `undefined` (a `Schema.Void`) is left out of it. */
const valueCodec = <A, I>(schema: Schema.Codec<A, I>) => {
  const encode = encoder(schema)
  return {
    decode: decoder(schema),
    encode: (value: A): Result.Result<string | undefined, string> => {
      const encoded = encode(value)
      if (Result.isFailure(encoded)) return Result.fail(encoded.failure)
      return encoded.success === undefined ? Result.succeed(undefined) : jsonText(encoded.success)
    }
  }
}

const noFailure = Schema.Never as unknown as Schema.Codec<any, any>

const requestCodecs = (
  schemas: Readonly<Record<string, RequestSchemas>> | undefined
): Readonly<Record<string, RequestCodec>> | undefined => {
  if (schemas === undefined) return undefined
  const codecs: Record<string, RequestCodec> = Object.create(null)
  for (const name of Object.keys(schemas)) {
    const { failure = noFailure, payload, success } = schemas[name]
    const [p, s, f] = [valueCodec(payload), valueCodec(success), valueCodec(failure)]
    codecs[name] = {
      decodePayload: p.decode,
      encodePayload: p.encode,
      decodeReply: (ok, json) => (ok ? s.decode(json) : f.decode(json)),
      encodeReply: (ok, value) => (ok ? s.encode(value) : f.encode(value))
    }
  }
  return codecs
}

/** A request's codec by name; a name like "toString" is not one unless declared. */
export const requestCodec = (
  codecs: Readonly<Record<string, RequestCodec>> | undefined,
  name: string
): RequestCodec | undefined => (codecs !== undefined && hasOwn(codecs, name) ? codecs[name] : undefined)

/**
 * Whether a frame's JSON holds a key that could reach a prototype (see `json`): asked of envelopes,
 * whose payloads the schemas decode from values parsed outside `jsonCodec`.
 */
export const refusedEnvelope = (text: string): boolean => {
  if (!mayReachPrototype(text)) return false
  try {
    return prototypeKey(JSON.parse(text)) !== undefined
  } catch {
    return true
  }
}

/** A reply refused as `json` refuses a frame with a prototype key (see `refusedEnvelope`). */
export const refusedReply = (request: string): RequestError =>
  new RequestError({ reason: "InvalidReply", request, error: "refused: a key that could reach a prototype" })

export const json = <In, InEncoded, Out, OutEncoded>(
  schemas: {
    readonly incoming: Schema.Codec<In, InEncoded>
    readonly outgoing: Schema.Codec<Out, OutEncoded>
    readonly requests?: Readonly<Record<string, RequestSchemas>> | undefined
    readonly serverRequests?: Readonly<Record<string, RequestSchemas>> | undefined
  }
): Protocol<In, Out> => {
  const incoming = jsonCodec(schemas.incoming)
  const outgoing = jsonCodec(schemas.outgoing)
  return {
    [TypeId]: TypeId,
    frames: "text",
    decode: incoming.decode,
    encode: outgoing.encode,
    encodeIncoming: incoming.encode,
    decodeOutgoing: (data) => described(outgoing.decode(data)),
    requests: requestCodecs(schemas.requests),
    serverRequests: requestCodecs(schemas.serverRequests)
  }
}

export const binary = <In, Out>(
  schemas: { readonly incoming: Schema.Codec<In, Uint8Array>; readonly outgoing: Schema.Codec<Out, Uint8Array> }
): Protocol<In, Out> => {
  const decodeOutgoing = decoder(schemas.outgoing)
  return {
    [TypeId]: TypeId,
    frames: "binary",
    decode: decoder(schemas.incoming),
    encode: encoder(schemas.outgoing),
    encodeIncoming: encoder(schemas.incoming),
    decodeOutgoing: (data) => described(decodeOutgoing(data)),
    requests: undefined,
    serverRequests: undefined
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

/** A request from the client, decoded (a protocol with `requests`): answered with `reply`. */
export interface Request<Name extends string = string, Payload = unknown, Success = unknown, Failure = unknown> {
  readonly _tag: "Request"
  readonly name: Name
  readonly payload: Payload
  /** The client's number for it, which its reply carries. */
  readonly ref: number
  /** Type-level only: what a reply to it carries. */
  readonly "~effect-websocket/Request"?: { readonly success: Success; readonly failure: Failure } | undefined
}

class RequestImpl implements Request {
  readonly _tag = "Request"
  /** Set by the first reply: a second is not sent. */
  replied = false
  constructor(readonly name: string, readonly payload: unknown, readonly ref: number) {}
}

/** What the typed layer keeps of a connection: its protocol, for `send`. */
export const protocolOf = new WeakMap<PlainConnection, Protocol<unknown, unknown>>()

export const send = <Out>(connection: PlainConnection, value: Out): Effect.Effect<void, SendError | EncodeError> =>
  Effect.suspend((): Effect.Effect<void, SendError | EncodeError> => {
    const protocol = protocolOf.get(connection) as Protocol<unknown, Out> | undefined
    if (protocol === undefined) return Effect.die(new Error("Protocol.send: this connection's route has no protocol"))
    const encoded = protocol.encode(value)
    if (Result.isFailure(encoded)) return Effect.fail(new EncodeError({ error: encoded.failure }))
    const connectionImpl = connection as unknown as {
      send: (binary: boolean, data: string | Uint8Array) => Effect.Effect<void, SendError>
    }
    return connectionImpl.send(typeof encoded.success !== "string", encoded.success)
  })

export interface WrapOptions {
  readonly onInvalid: "close" | "deliver"
  readonly strictFrames: boolean
}

const invalidClose = { code: Close.InvalidPayload, reason: "invalid message" } as const
const unsupported = { code: 1003, reason: "unsupported frame type" } as const

type AnyAction = Action<unknown, unknown, unknown, unknown>

const wrongKindError = (tag: "TextMessage" | "BinaryMessage", frames: "text" | "binary") => () =>
  `a ${tag === "TextMessage" ? "text" : "binary"} frame on a ${frames} protocol`

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
    message: Decoded<In> | Invalid | Request | PlainMessage<unknown>,
    connection: Connection
  ) => Effect.Effect<AnyAction, unknown, unknown>,
  stop: (code: number, reason: string) => Effect.Effect<AnyAction>
) => {
  const wrongKind = stop(unsupported.code, unsupported.reason)
  const invalid = stop(invalidClose.code, invalidClose.reason)
  const requests = protocol.requests
  return (
    state: State,
    message: PlainMessage<unknown>,
    connection: Connection
  ): Effect.Effect<AnyAction, unknown, unknown> => {
    switch (message._tag) {
      case "TextMessage":
      case "BinaryMessage": {
        const raw = message._tag === "TextMessage" ? message.text : message.data
        if (requests !== undefined && typeof raw === "string" && Envelope.mayBeEnvelope(raw)) {
          const request = decodeRequest(requests, raw)
          if (request !== undefined) {
            if (Result.isSuccess(request)) return handle(state, request.success, connection)
            if (options.onInvalid === "close") return invalid
            return handle(state, { _tag: "Invalid", error: request.failure(), raw }, connection)
          }
        }
        const rightKind = (message._tag === "TextMessage") === (protocol.frames === "text")
        if (!rightKind && options.strictFrames) return wrongKind
        const decoded = rightKind ? protocol.decode(raw) : Result.fail(wrongKindError(message._tag, protocol.frames))
        if (Result.isSuccess(decoded)) return handle(state, { _tag: "Decoded", value: decoded.success }, connection)
        if (options.onInvalid === "close") return invalid
        return handle(state, { _tag: "Invalid", error: decoded.failure(), raw }, connection)
      }
      default:
        return handle(state, message, connection)
    }
  }
}

/**
 * A request envelope in a text frame, decoded: `undefined` when the frame is not one (a plain
 * message), a failure when it is one the protocol does not take (an unknown name, a payload that
 * does not decode, a prototype key).
 */
const decodeRequest = (
  requests: Readonly<Record<string, RequestCodec>>,
  text: string
): Result.Result<Request, LazyArg<string>> | undefined => {
  const envelope = Envelope.parse(text)
  if (envelope === undefined || envelope._tag !== "Request") return undefined
  const codec = requestCodec(requests, envelope.name)
  if (codec === undefined) return Result.fail(() => bounded(`no request is named ${JSON.stringify(envelope.name)}`))
  if (refusedEnvelope(text)) return Result.fail(constant("refused: a key that could reach a prototype"))
  const payload = codec.decodePayload(envelope.payload)
  return Result.isSuccess(payload)
    ? Result.succeed(new RequestImpl(envelope.name, payload.success, envelope.ref))
    : Result.fail(() =>
      `the payload of the request ${JSON.stringify(envelope.name)} does not decode: ${payload.failure()}`
    )
}

/** The sending side of a connection, as the typed layer uses it. */
interface Sender {
  readonly send: (binary: boolean, data: string | Uint8Array) => Effect.Effect<void, SendError>
  readonly whenEnding: (f: () => void) => void
  /** Text frames the connection's own transport callback sees first (`true`: taken, not for the loop). */
  tap: ((text: string) => boolean) | undefined
  readonly transport: { readonly sendText: (text: string) => unknown; readonly awaitClosed: Effect.Effect<void> }
}

/**
 * Runs `result` and sends its success or its failure as the reply to `request`; a request already
 * answered is not answered again. A failure of `result` that is not the request's is a defect: the
 * protocol's failure schema says what a client can be told.
 */
export const reply = <S, F, R>(
  connection: PlainConnection,
  request: Request<string, unknown, S, F>,
  result: Effect.Effect<S, F, R>
): Effect.Effect<void, SendError | EncodeError, R> =>
  Effect.flatMap(
    Effect.result(result),
    (outcome) =>
      Effect.suspend((): Effect.Effect<void, SendError | EncodeError> => {
        const impl = request as unknown as RequestImpl
        if (impl.replied) return Effect.void
        const protocol = protocolOf.get(connection)
        const codec = protocol === undefined ? undefined : requestCodec(protocol.requests, request.name)
        if (codec === undefined) {
          return Effect.die(new Error("Protocol.reply: this connection's protocol has no such request"))
        }
        const ok = Result.isSuccess(outcome)
        const encoded = codec.encodeReply(ok, Result.isSuccess(outcome) ? outcome.success : outcome.failure)
        if (Result.isFailure(encoded)) return Effect.fail(new EncodeError({ error: encoded.failure }))
        impl.replied = true
        return (connection as unknown as Sender).send(false, Envelope.reply(request.ref, ok, encoded.success))
      })
  )

type Reply = Envelope.Envelope & { readonly _tag: "Reply" }

interface Waiting {
  readonly name: string
  readonly reply: Deferred.Deferred<Reply, RequestError>
}

/** The server's requests waiting for the client's replies, per connection. */
const pendingOf = new WeakMap<PlainConnection, Envelope.Pending<Waiting>>()

const defaultTimeout = Duration.seconds(10)

/**
 * Installs the typed layer's tap on a connection: heartbeats are answered at once, from the
 * transport's callback (so a busy loop does not look dead), and replies to the server's own requests
 * go to whoever waits for them, not to the loop, which may be that waiter.
 */
export const install = (connection: PlainConnection, protocol: Protocol<unknown, unknown>): void => {
  const sender = connection as unknown as Sender
  const serverRequests = protocol.serverRequests
  sender.tap = (text) => {
    if (!Envelope.mayBeEnvelope(text)) return false
    const envelope = Envelope.parse(text)
    if (envelope === undefined) return false
    if (envelope._tag === "Heartbeat") {
      sender.transport.sendText(text)
      return true
    }
    if (envelope._tag !== "Reply" || serverRequests === undefined) return false
    // a reply to a request nobody waits on any more (timed out) is dropped
    const waiting = pendingOf.get(connection)?.take(envelope.ref)
    if (waiting !== undefined) {
      Deferred.doneUnsafe(
        waiting.reply,
        refusedEnvelope(text) ? Exit.fail(refusedReply(waiting.name)) : Exit.succeed(envelope)
      )
    }
    return true
  }
}

/** Sends a request to the client and waits for its reply, decoded (see `Protocol.request`). */
export const request = (
  connection: PlainConnection,
  name: string,
  payload: unknown,
  options?: { readonly timeout?: Duration.Input | undefined }
): Effect.Effect<unknown, unknown> =>
  Effect.suspend(() => {
    const protocol = protocolOf.get(connection)
    const codec = protocol === undefined ? undefined : requestCodec(protocol.serverRequests, name)
    if (codec === undefined) {
      return Effect.die(new Error(`Protocol.request: this connection's protocol has no server request "${name}"`))
    }
    const encoded = codec.encodePayload(payload)
    if (Result.isFailure(encoded)) return Effect.fail(new EncodeError({ error: encoded.failure }))
    const sender = connection as unknown as Sender
    let pending = pendingOf.get(connection)
    if (pending === undefined) {
      const table = new Envelope.Pending<Waiting>()
      pendingOf.set(connection, table)
      const closed = () => {
        for (const waiting of table.drain()) {
          Deferred.doneUnsafe(waiting.reply, Exit.fail(new RequestError({ reason: "Closed", request: waiting.name })))
        }
      }
      sender.whenEnding(closed)
      // the connection ends only after the turn that waits here, if a handler waits: the transport's
      // close is what tells such a request that no reply can come
      Effect.runFork(Effect.andThen(sender.transport.awaitClosed, Effect.sync(closed)))
      pending = table
    }
    const table = pending
    const reply = Deferred.makeUnsafe<Reply, RequestError>()
    const ref = table.add({ name, reply })
    return sender.send(false, Envelope.request(name, ref, encoded.success)).pipe(
      Effect.andThen(Deferred.await(reply)),
      Effect.timeoutOrElse({
        duration: options?.timeout ?? defaultTimeout,
        orElse: () => Effect.fail(new RequestError({ reason: "Timeout", request: name }))
      }),
      Effect.flatMap((answer) => {
        const decoded = codec.decodeReply(answer.ok, answer.value)
        if (Result.isFailure(decoded)) {
          return Effect.fail(new RequestError({ reason: "InvalidReply", request: name, error: decoded.failure() }))
        }
        return answer.ok ? Effect.succeed(decoded.success) : Effect.fail(decoded.success)
      }),
      Effect.ensuring(Effect.sync(() => table.remove(ref)))
    )
  })
