/**
 * The typed client's implementation; the public face, with the docs, is `Client.ts`. No `node:`
 * import and nothing of the server: it runs wherever a WHATWG `WebSocket` does (browsers, Deno, Bun,
 * Node 22) or one is handed in (`ws`'s, the test kit's).
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Backoff from "./core/backoff.js"
import * as Close from "./core/close.js"
import * as Envelope from "./core/envelope.js"
import {
  EncodeError,
  type Protocol,
  refusedEnvelope,
  refusedReply,
  type RequestCodec,
  requestCodec,
  RequestError
} from "./protocol.js"

/** The part of a WHATWG `WebSocket` the client uses: browsers', Node 22's, Deno's, Bun's and `ws`'s have it. */
export interface WebSocketLike {
  readonly readyState: number
  binaryType: string
  onopen: ((event: any) => void) | null
  // `any`: each implementation has its own event classes (a DOM MessageEvent, ws's, the test kit's);
  // the client reads `data` of a message and `code`/`reason` of a close
  onmessage: ((event: any) => void) | null
  onclose: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
  send(data: string | Uint8Array): void
  close(code?: number, reason?: string): void
}

export interface WebSocketConstructor {
  new(url: string, protocols?: string | Array<string>): WebSocketLike
}

export type State =
  | { readonly _tag: "Connecting"; readonly attempt: number }
  | { readonly _tag: "Open" }
  | {
    readonly _tag: "Reconnecting"
    readonly attempt: number
    readonly delay: Duration.Duration
    readonly code: number
    readonly reason: string
  }
  | { readonly _tag: "Closed"; readonly code: number; readonly reason: string }

export class ClientError extends Data.TaggedError("ClientError")<{
  readonly reason: "NotConnected" | "BufferFull" | "Closed" | "Unsupported" | "InvalidOptions"
  /** With `Closed`: the close that ended the client; with `InvalidOptions` and `Unsupported`: what is wrong. */
  readonly code?: number | undefined
  readonly detail?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "NotConnected":
        return "the client is not connected, and keeps nothing for later (buffer: 0)"
      case "BufferFull":
        return "the client is not connected, and already keeps as many messages as its buffer holds"
      case "Closed":
        return `the client is closed${
          this.code === undefined ? "" : ` (${this.code}${this.detail ? ` ${this.detail}` : ""})`
        }`
      case "Unsupported":
      case "InvalidOptions":
        return `${this.reason === "Unsupported" ? "cannot connect" : "invalid option"}: ${this.detail}`
    }
  }
}

/** Closes the client decides itself; after 4000 and 4001 it reconnects by default (Backoff.defaultRetryOn). */
export const heartbeatTimeout = { code: 4000, reason: "heartbeat timeout" } as const
export const messagesFull = { code: 4001, reason: "client buffer full" } as const
export const invalidMessage = { code: 4002, reason: "invalid message" } as const
const lost = { code: Close.Abnormal, reason: "" } as const
/** No open within `connectTimeout`: a connection that was never made, retried as 1006 is. */
export const connectTimedOut = { code: Close.Abnormal, reason: "connect timeout" } as const
const ignore = () => {}
const normal = { code: 1000, reason: "" } as const

export interface Options<R> {
  readonly protocols?: string | ReadonlyArray<string> | undefined
  readonly webSocket?: WebSocketConstructor | undefined
  readonly reconnect?:
    | false
    | {
      readonly initial?: Duration.Input | undefined
      readonly max?: Duration.Input | undefined
      readonly factor?: number | undefined
      readonly jitter?: number | undefined
      readonly retryOn?: Iterable<number> | undefined
      readonly maxAttempts?: number | undefined
    }
    | undefined
  readonly heartbeat?: false | Duration.Input | undefined
  readonly buffer?: number | undefined
  readonly capacity?: number | undefined
  readonly requestTimeout?: Duration.Input | undefined
  readonly connectTimeout?: Duration.Input | undefined
  readonly onInvalid?: "skip" | "close" | undefined
  readonly onConnect?: ((client: any) => Effect.Effect<void, never, R>) | undefined
  readonly onRequest?:
    | { readonly [name: string]: ((payload: any) => Effect.Effect<any, any, R>) | undefined }
    | undefined
}

export interface Client<In, Out> {
  readonly messages: Stream.Stream<Out>
  readonly send: (message: In) => Effect.Effect<void, ClientError | EncodeError>
  readonly request: (
    name: string,
    payload: unknown,
    options?: { readonly timeout?: Duration.Input | undefined }
  ) => Effect.Effect<unknown, unknown>
  readonly state: SubscriptionRef.SubscriptionRef<State>
  readonly awaitOpen: Effect.Effect<void, ClientError>
  readonly close: (code?: number, reason?: string) => Effect.Effect<void, ClientError>
}

type Reply = Envelope.Envelope & { readonly _tag: "Reply" }

interface Waiting {
  readonly name: string
  readonly reply: Deferred.Deferred<Reply, RequestError | ClientError>
  /** The connection it was sent on; `undefined` while it waits in the buffer. */
  sentOn: number | undefined
}

/** A frame kept while the client is not connected, and the request waiting on it, if it is one. */
interface Kept {
  readonly frame: string | Uint8Array
  readonly waiting: Waiting | undefined
}

/** One WebSocket of the client's life. */
interface Attempt {
  readonly serial: number
  readonly ws: WebSocketLike
  readonly opened: Deferred.Deferred<void>
  readonly ended: Deferred.Deferred<{ readonly code: number; readonly reason: string }>
  /** The heartbeat sent and not answered yet. */
  outstanding: number | undefined
  done: boolean
}

/** A duration option in milliseconds; `NaN` for one that is not a duration, which `validate` refuses. */
const millis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined
    ? fallback
    : Option.match(Duration.fromInput(input), { onNone: () => NaN, onSome: Duration.toMillis })

const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0

const policyOf = (reconnect: Options<unknown>["reconnect"]): Backoff.Backoff | string => {
  if (reconnect === false) return { ...Backoff.defaults, maxAttempts: 0 }
  const r = reconnect ?? {}
  const policy: Backoff.Backoff = {
    initial: millis(r.initial, Backoff.defaults.initial),
    max: millis(r.max, Backoff.defaults.max),
    factor: r.factor ?? Backoff.defaults.factor,
    jitter: r.jitter ?? Backoff.defaults.jitter,
    retryOn: r.retryOn === undefined ? Backoff.defaults.retryOn : new Set(r.retryOn),
    maxAttempts: r.maxAttempts ?? Backoff.defaults.maxAttempts
  }
  const invalid = Backoff.invalid(policy)
  return invalid === undefined ? policy : `reconnect.${invalid}`
}

/** What is wrong with the options, before anything connects. */
const validate = (url: string, options: Options<unknown>): string | undefined => {
  try {
    const scheme = new URL(url).protocol
    if (scheme !== "ws:" && scheme !== "wss:") return `url: ${url} is not a ws: or wss: URL`
  } catch {
    return `url: ${url} is not a URL`
  }
  if (options.buffer !== undefined && !isCount(options.buffer)) return `buffer: ${options.buffer} is not a count`
  if (options.capacity !== undefined && !(isCount(options.capacity) && options.capacity > 0)) {
    return `capacity: ${options.capacity} is not a count above 0`
  }
  if (options.heartbeat !== undefined && options.heartbeat !== false && !(millis(options.heartbeat, 0) > 0)) {
    return "heartbeat: not a duration above 0"
  }
  if (options.requestTimeout !== undefined && !(millis(options.requestTimeout, 0) > 0)) {
    return "requestTimeout: not a duration above 0"
  }
  if (options.connectTimeout !== undefined && !(millis(options.connectTimeout, 0) > 0)) {
    return "connectTimeout: not a duration above 0"
  }
  return undefined
}

const bytesOf = (data: unknown): Uint8Array | undefined =>
  data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : undefined

export const make = <In, Out, R>(
  protocol: Protocol<In, Out>,
  url: string,
  options: Options<R> = {}
): Effect.Effect<Client<In, Out>, ClientError, Scope.Scope | R> =>
  Effect.gen(function*() {
    const invalid = validate(url, options)
    if (invalid !== undefined) return yield* Effect.fail(new ClientError({ reason: "InvalidOptions", detail: invalid }))
    const policy = policyOf(options.reconnect)
    if (typeof policy === "string") {
      return yield* Effect.fail(new ClientError({ reason: "InvalidOptions", detail: policy }))
    }
    const WebSocket = options.webSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocket === undefined) {
      return yield* Effect.fail(
        new ClientError({
          reason: "Unsupported",
          detail: "no global WebSocket here: pass one, as `webSocket: WebSocket` from the ws package"
        })
      )
    }
    const protocols = typeof options.protocols === "string" ? options.protocols : options.protocols?.slice()
    const bufferLimit = options.buffer ?? 0
    const heartbeat = options.heartbeat === false ? undefined : millis(options.heartbeat, 30_000)
    const requestTimeout = millis(options.requestTimeout, 10_000)
    const connectTimeout = millis(options.connectTimeout, 10_000)
    const onInvalid = options.onInvalid ?? "skip"

    const run = yield* FiberSet.makeRuntime<R>()
    const state = yield* SubscriptionRef.make<State>({ _tag: "Connecting", attempt: 0 })
    const messages = yield* Queue.make<Out, Cause.Done>({ capacity: options.capacity ?? 4096 })
    const pending = new Envelope.Pending<Waiting>()
    const kept: Array<Kept> = []
    /** The connection sends go to: open, and past `onConnect` (for `direct` sends, from the start). */
    let current: Attempt | undefined = undefined
    let ready = false
    /** Set once: the client is closed for good. */
    let closedAs: { readonly code: number; readonly reason: string } | undefined = undefined
    let serial = 0
    let heartbeats = 0

    const closedError = () => new ClientError({ reason: "Closed", code: closedAs?.code, detail: closedAs?.reason })

    const failWaiting = (waiting: Waiting, error: RequestError | ClientError) =>
      Deferred.doneUnsafe(waiting.reply, Exit.fail(error))

    /** The connection `attempt` ended (`info`): its requests will get no reply. */
    const ended = (attempt: Attempt, info: { readonly code: number; readonly reason: string }) => {
      if (attempt.done) return
      attempt.done = true
      Deferred.doneUnsafe(attempt.ended, Exit.succeed(info))
      const ws = attempt.ws
      ws.onopen = ws.onmessage = ws.onclose = null
      // not null: `ws` emits an "error" event after a close during its handshake, and an EventEmitter
      // "error" with no listener left ends a Node process
      ws.onerror = ignore
      if (current === attempt) {
        current = undefined
        ready = false
      }
      // those still in the buffer wait for the next connection
      for (const waiting of pending.removeWhere((w) => w.sentOn === attempt.serial)) {
        failWaiting(waiting, new RequestError({ reason: "Closed", request: waiting.name }))
      }
    }

    /** The client gives up on `attempt` itself (a dead server, a full buffer, an invalid message). */
    const abandon = (attempt: Attempt, info: { readonly code: number; readonly reason: string }) => {
      try {
        attempt.ws.close(info.code, info.reason)
      } catch {
        // a socket that cannot even close is gone all the same
      }
      ended(attempt, info)
    }

    const write = (attempt: Attempt, frame: string | Uint8Array): boolean => {
      if (attempt.ws.readyState !== 1) return false
      try {
        attempt.ws.send(frame)
        return true
      } catch {
        return false
      }
    }

    /** Sends `frame` now, or keeps it for the next connection, as the buffer policy says. */
    const transmit = (
      frame: string | Uint8Array,
      waiting: Waiting | undefined,
      direct: boolean
    ): ClientError | undefined => {
      if (closedAs !== undefined) return closedError()
      const attempt = current
      if (attempt !== undefined && (ready || direct) && write(attempt, frame)) {
        if (waiting !== undefined) waiting.sentOn = attempt.serial
        return undefined
      }
      if (kept.length >= bufferLimit) {
        return new ClientError({ reason: bufferLimit === 0 ? "NotConnected" : "BufferFull" })
      }
      kept.push({ frame, waiting })
      return undefined
    }

    /** Sends what was kept, in order, once `onConnect` is done. */
    const flush = (attempt: Attempt) => {
      while (kept.length > 0) {
        const { frame, waiting } = kept[0]
        if (!write(attempt, frame)) return
        kept.shift()
        if (waiting !== undefined) waiting.sentOn = attempt.serial
      }
    }

    const answer = (attempt: Attempt, codec: RequestCodec, ref: number, ok: boolean, value: unknown) => {
      const encoded = codec.encodeReply(ok, value)
      if (Result.isFailure(encoded)) {
        return Effect.logWarning(`Client: the answer to a server request does not encode: ${encoded.failure}`)
      }
      return Effect.sync(() => write(attempt, Envelope.reply(ref, ok, encoded.success)))
    }

    const serverRequest = (
      attempt: Attempt,
      envelope: Envelope.Envelope & { readonly _tag: "Request" },
      text: string
    ) => {
      const codec = requestCodec(protocol.serverRequests, envelope.name)
      const handler = codec === undefined ? undefined : options.onRequest?.[envelope.name]
      if (codec === undefined || handler === undefined) {
        run(Effect.logWarning(`Client: the server sent a request "${envelope.name}" that nothing answers`))
        return
      }
      if (refusedEnvelope(text)) {
        run(Effect.logWarning(`Client: a server request "${envelope.name}" holds a key that could reach a prototype`))
        return
      }
      const payload = codec.decodePayload(envelope.payload)
      if (Result.isFailure(payload)) {
        run(Effect.logWarning(`Client: a server request "${envelope.name}" does not decode: ${payload.failure()}`))
        return
      }
      run(Effect.flatMap(
        Effect.result(Effect.suspend(() => handler(payload.success))),
        (result) =>
          Result.isSuccess(result)
            ? answer(attempt, codec, envelope.ref, true, result.success)
            : answer(attempt, codec, envelope.ref, false, result.failure)
      ))
    }

    const envelopeIn = (attempt: Attempt, envelope: Envelope.Envelope, text: string) => {
      switch (envelope._tag) {
        case "Heartbeat":
          if (envelope.id === attempt.outstanding) attempt.outstanding = undefined
          return
        case "Reply": {
          // a reply nobody waits on any more (timed out) is dropped
          const waiting = pending.take(envelope.ref)
          if (waiting !== undefined) {
            Deferred.doneUnsafe(
              waiting.reply,
              refusedEnvelope(text) ? Exit.fail(refusedReply(waiting.name)) : Exit.succeed(envelope)
            )
          }
          return
        }
        case "Request":
          return serverRequest(attempt, envelope, text)
      }
    }

    const frameIn = (attempt: Attempt, data: unknown) => {
      if (typeof data === "string" && Envelope.mayBeEnvelope(data)) {
        const envelope = Envelope.parse(data)
        if (envelope !== undefined) return envelopeIn(attempt, envelope, data)
      }
      const raw = typeof data === "string" ? data : bytesOf(data)
      const decoded = raw === undefined
        ? Result.fail("a frame that is neither text nor bytes (binaryType must stay \"arraybuffer\")")
        : protocol.decodeOutgoing(raw)
      if (Result.isSuccess(decoded)) {
        if (!Queue.offerUnsafe(messages, decoded.success)) abandon(attempt, messagesFull)
        return
      }
      if (onInvalid === "close") {
        abandon(attempt, invalidMessage)
      } else {
        run(Effect.logWarning(`Client: a message from the server does not decode, skipped: ${decoded.failure}`))
      }
    }

    const open = (): Attempt => {
      const attempt: Attempt = {
        serial: ++serial,
        ws: undefined as unknown as WebSocketLike,
        opened: Deferred.makeUnsafe(),
        ended: Deferred.makeUnsafe(),
        outstanding: undefined,
        done: false
      }
      let ws: WebSocketLike
      try {
        ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols)
      } catch {
        // what the constructor refuses (a blocked port, say) is a connection that never opened
        attempt.done = true
        Deferred.doneUnsafe(attempt.ended, Exit.succeed(lost))
        return attempt
      }
      ;(attempt as { ws: WebSocketLike }).ws = ws
      ws.binaryType = "arraybuffer"
      ws.onopen = () => Deferred.doneUnsafe(attempt.opened, Exit.void)
      ws.onmessage = (event) => frameIn(attempt, event.data)
      ws.onclose = (event) => ended(attempt, { code: event.code, reason: event.reason })
      // an error is followed by a close, which says what ended
      ws.onerror = () => {}
      return attempt
    }

    const pulse = (attempt: Attempt, interval: number) =>
      Effect.forever(Effect.andThen(
        Effect.sleep(Duration.millis(interval)),
        Effect.sync(() => {
          // the last heartbeat had a whole interval to come back
          if (attempt.outstanding !== undefined) return abandon(attempt, heartbeatTimeout)
          attempt.outstanding = ++heartbeats
          write(attempt, Envelope.heartbeat(attempt.outstanding))
        })
      ))

    const handle = makeHandle(false)
    const direct = makeHandle(true)
    /** The connection under way, open or not. */
    let latest: Attempt | undefined = undefined

    /** One connection, from the constructor to its end: what ended it, and whether it opened. */
    const connection = (number: number) =>
      Effect.gen(function*() {
        yield* SubscriptionRef.set(state, { _tag: "Connecting", attempt: number })
        const attempt = open()
        latest = attempt
        const first = yield* Effect.raceFirst(
          Effect.as(Deferred.await(attempt.opened), undefined),
          Effect.raceFirst(
            Deferred.await(attempt.ended),
            // a server that takes the TCP connection and never answers the upgrade
            Effect.as(
              Effect.andThen(
                Effect.sleep(Duration.millis(connectTimeout)),
                Effect.sync(() => abandon(attempt, connectTimedOut))
              ),
              connectTimedOut
            )
          )
        )
        if (first !== undefined) return [first, false] as const
        current = attempt
        if (options.onConnect !== undefined) {
          yield* Effect.raceFirst(options.onConnect(direct), Effect.asVoid(Deferred.await(attempt.ended)))
        }
        if (current === attempt) {
          flush(attempt)
          ready = kept.length === 0
          if (ready) {
            yield* SubscriptionRef.set(state, { _tag: "Open" })
            if (heartbeat !== undefined) yield* Effect.forkScoped(pulse(attempt, heartbeat))
          } else {
            // the socket failed while the kept frames went out: it is ending
            abandon(attempt, lost)
          }
        }
        return [yield* Deferred.await(attempt.ended), true] as const
      }).pipe(
        Effect.scoped,
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            if (latest !== undefined) abandon(latest, closedAs ?? normal)
          })
        )
      )

    /** Connections, one after another, until a close that is not retried. */
    const life = Effect.gen(function*() {
      let attempts = 0
      while (true) {
        const [info, opened] = yield* connection(attempts)
        if (opened) attempts = 0
        if (!Backoff.retries(policy, info.code, attempts)) return info
        attempts += 1
        const delay = Backoff.delay(policy, attempts, yield* Random.next)
        yield* SubscriptionRef.set(state, {
          _tag: "Reconnecting",
          attempt: attempts,
          delay: Duration.millis(delay),
          code: info.code,
          reason: info.reason
        })
        yield* Effect.sleep(Duration.millis(delay))
      }
    })

    /** The client is done: every wait ends, the messages end after what is queued. */
    const finish = (info: { readonly code: number; readonly reason: string }) =>
      Effect.suspend(() => {
        closedAs ??= info
        const error = closedError()
        for (const waiting of pending.drain()) failWaiting(waiting, error)
        kept.length = 0
        Queue.endUnsafe(messages)
        return SubscriptionRef.set(state, { _tag: "Closed", code: closedAs.code, reason: closedAs.reason })
      })

    const fiber = yield* Effect.forkDetach(Effect.flatMap(life, finish))
    yield* Effect.addFinalizer(() => Effect.orDie(handle.close()))

    function makeHandle(isDirect: boolean): Client<In, Out> {
      return {
        messages: Stream.fromQueue(messages),
        state,
        send: (message) =>
          Effect.suspend((): Effect.Effect<void, ClientError | EncodeError> => {
            const encoded = protocol.encodeIncoming(message)
            if (Result.isFailure(encoded)) return Effect.fail(new EncodeError({ error: encoded.failure }))
            const error = transmit(encoded.success, undefined, isDirect)
            return error === undefined ? Effect.void : Effect.fail(error)
          }),
        request: (name, payload, requestOptions) =>
          Effect.suspend((): Effect.Effect<unknown, unknown> => {
            const codec = requestCodec(protocol.requests, name)
            if (codec === undefined) {
              return Effect.die(new Error(`Client.request: the protocol has no request "${name}"`))
            }
            const encoded = codec.encodePayload(payload)
            if (Result.isFailure(encoded)) return Effect.fail(new EncodeError({ error: encoded.failure }))
            const waiting: Waiting = { name, reply: Deferred.makeUnsafe(), sentOn: undefined }
            const ref = pending.add(waiting)
            const error = transmit(Envelope.request(name, ref, encoded.success), waiting, isDirect)
            if (error !== undefined) {
              pending.remove(ref)
              return Effect.fail(error)
            }
            return Deferred.await(waiting.reply).pipe(
              Effect.timeoutOrElse({
                duration: requestOptions?.timeout ?? requestTimeout,
                orElse: () => Effect.fail(new RequestError({ reason: "Timeout", request: name }))
              }),
              Effect.flatMap((reply) => {
                const decoded = codec.decodeReply(reply.ok, reply.value)
                if (Result.isFailure(decoded)) {
                  return Effect.fail(
                    new RequestError({ reason: "InvalidReply", request: name, error: decoded.failure() })
                  )
                }
                return reply.ok ? Effect.succeed(decoded.success) : Effect.fail(decoded.success)
              }),
              Effect.ensuring(Effect.sync(() => {
                pending.remove(ref)
                const at = kept.findIndex((k) => k.waiting === waiting)
                if (at !== -1) kept.splice(at, 1)
              }))
            )
          }),
        awaitOpen: Effect.flatMap(
          Stream.runHead(
            Stream.filter(SubscriptionRef.changes(state), (s) => s._tag === "Open" || s._tag === "Closed")
          ),
          (s) => (Option.isSome(s) && s.value._tag === "Open" ? Effect.void : Effect.fail(closedError()))
        ),
        close: (code = 1000, reason = "") =>
          Effect.suspend(() => {
            if (code !== 1000 && !(code >= 3000 && code <= 4999)) {
              return Effect.fail(
                new ClientError({ reason: "InvalidOptions", detail: `close: ${code} is not 1000 or 3000-4999` })
              )
            }
            if (Close.utf8Length(reason) > 123) {
              return Effect.fail(new ClientError({ reason: "InvalidOptions", detail: "close: reason over 123 bytes" }))
            }
            if (closedAs !== undefined) return Effect.void
            closedAs = { code, reason }
            // the waits end with the client's `Closed` before the connection's end can fail them with
            // `RequestError`; the interruption is not awaited: `close` may run inside the connection's
            // own fiber (in `onConnect`), where it takes effect at the fiber's next step
            return Effect.andThen(finish(closedAs), Effect.sync(() => fiber.interruptUnsafe()))
          })
      }
    }

    return handle
  })
