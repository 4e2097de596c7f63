/**
 * The test kit's implementation: the in-memory acceptor and the client end of a connection. The
 * public face, with the docs, is `Testing.ts`.
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Acceptor from "../Acceptor.js"
import * as Message from "../Message.js"
import type { Closed, ConnectOptions, Frame, TestClient, TypedTestClient } from "../Testing.js"
import * as InternalAcceptor from "./acceptor.js"
import type { WebSocketConstructor, WebSocketLike } from "./client.js"
import * as Close from "./core/close.js"
import { CloseError } from "./errors.js"
import { MemoryConnection } from "./memory/transport.js"
import { EncodeError, type Protocol } from "./protocol.js"

export class TestClientError extends Data.TaggedError("TestClientError")<{
  readonly reason: "Closed" | "NoFrame" | "NotClosed" | "UnexpectedFrame" | "Rejected" | "Undecodable"
  readonly closed?: Closed | undefined
  readonly frame?: Frame | undefined
  readonly response?: HttpServerResponse.HttpServerResponse | undefined
  /** With `Undecodable`: what the protocol's schema said. */
  readonly error?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "Closed":
        return `the connection is closed${this.closed ? ` (${this.closed.code} ${this.closed.reason})` : ""}`
      case "NoFrame":
        return "no frame arrived from the server within the receive timeout"
      case "NotClosed":
        return "the connection did not close within the receive timeout"
      case "UnexpectedFrame":
        return `a frame arrived when none was expected: ${JSON.stringify(this.frame)}`
      case "Rejected":
        return `the route answered ${this.response?.status} instead of upgrading`
      case "Undecodable":
        return `a frame from the server does not decode with the protocol: ${this.error}`
    }
  }
}

const handshakeHeaders: Readonly<Record<string, string>> = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="
}

/** A real-time timer: the client's waits fail, not hang, when what a test waits for never comes. */
const realTime = (millis: number) =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

const guarded = <A, E>(self: Effect.Effect<A, E>, millis: number, reason: "NoFrame" | "NotClosed") =>
  Effect.raceFirst(self, Effect.andThen(realTime(millis), Effect.fail(new TestClientError({ reason }))))

const makeClient = (connection: MemoryConnection, receiveTimeout: number): TestClient => {
  const closedError = Effect.suspend(() =>
    Effect.fail(new TestClientError({ reason: "Closed", closed: connection.closedAs }))
  )
  const ifOpen = (send: () => boolean) => Effect.suspend(() => (send() ? Effect.void : closedError))
  const sendWhenReadable = (send: () => boolean) => Effect.andThen(connection.awaitReadable, ifOpen(send))
  // waiting never consumes a frame, so the real-time guard can interrupt it without losing one
  const receive: Effect.Effect<Frame, TestClientError> = Effect.suspend(() => {
    const frame = connection.readFrame()
    if (frame !== undefined) return Effect.succeed(frame)
    if (connection.closedAs !== undefined) return closedError
    return Effect.andThen(guarded(connection.awaitFrame, receiveTimeout, "NoFrame"), receive)
  })
  return {
    sendText: (text) => sendWhenReadable(() => connection.peerSend(Message.TextMessage(text))),
    sendBinary: (data) => sendWhenReadable(() => connection.peerSend(Message.BinaryMessage(data))),
    close: (code, reason = "") =>
      Effect.suspend((): Effect.Effect<void, TestClientError | CloseError> => {
        if (code !== undefined) {
          const invalid = Close.validateClose(code, reason)
          if (invalid !== undefined) return Effect.fail(new CloseError({ reason: invalid, code, closeReason: reason }))
        }
        return ifOpen(() => connection.peerClose(code, reason))
      }),
    drop: Effect.sync(() => {
      connection.peerDrop()
    }),
    receive,
    receiveUntil: (predicate: (frame: Frame) => boolean) => until(receive, predicate),
    // the stream ends (Done) at `Closed`, once every frame was read
    frames: Stream.fromEffectRepeat(
      Effect.catchIf(receive, (error) => error.reason === "Closed", () => Cause.done())
    ),
    expectNoFrame: (duration) =>
      Effect.raceFirst(
        Effect.andThen(
          connection.awaitFrame,
          Effect.suspend(() =>
            connection.hasFrame()
              ? Effect.fail(new TestClientError({ reason: "UnexpectedFrame", frame: connection.peekFrame() }))
              : Effect.never
          )
        ),
        realTime(Duration.toMillis(duration))
      ),
    closed: guarded(Deferred.await(connection.peerClosed), receiveTimeout, "NotClosed"),
    // told once onClose ran and the transport closed: then the connection no longer counts anywhere
    closeInfo: guarded(Deferred.await(connection.closeInfo), receiveTimeout, "NotClosed"),
    pings: Effect.sync(() => connection.pings)
  }
}

/**
 * The test kit's clients are connections of one server, whatever their scopes: a route's limits
 * (`maxConnections`) count them together.
 */
const testServer = {}

export const run = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  url: string,
  options: ConnectOptions | undefined
): Effect.Effect<
  TestClient,
  E | TestClientError,
  Scope.Scope | Exclude<R, HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Scope.Scope>
> =>
  Effect.map(
    accept(app, url, options),
    (connection) => makeClient(connection, Duration.toMillis(options?.receiveTimeout ?? Duration.seconds(2)))
  )

/** The route's handshake in memory: the connection it accepted, or `Rejected` with its response. */
const accept = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  url: string,
  options: ConnectOptions | undefined
): Effect.Effect<
  MemoryConnection,
  E | TestClientError,
  Scope.Scope | Exclude<R, HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Scope.Scope>
> =>
  Effect.gen(function*() {
    const accepted = yield* Deferred.make<MemoryConnection>()
    const target = new URL(url, "http://localhost")
    // a Host as a browser sends it, so that an Origin header in `options.headers` meets the same check
    const web = HttpServerRequest.fromWeb(
      new Request(target, { headers: { host: target.host, ...options?.headers, ...handshakeHeaders } })
    )
    const request = options?.remoteAddress === undefined
      ? web
      : web.modify({ remoteAddress: Option.some(options.remoteAddress) })
    // the connection lives in the caller's scope: its close is the server's shutdown
    const acceptor = yield* InternalAcceptor.make((_request, handshake, connect) => {
      const connection = new MemoryConnection(connect, {
        answersPings: options?.autoPong !== false,
        maxMessageSize: handshake.wire.maxMessageSize
      })
      Deferred.doneUnsafe(accepted, Exit.succeed(connection))
      return connection
    }, { onEnded: (transport, info) => (transport as MemoryConnection).ended(info), server: testServer })
    const response = yield* app.pipe(
      Effect.scoped,
      Effect.provideService(HttpServerRequest.HttpServerRequest, request),
      Effect.provideService(InternalAcceptor.Acceptor, acceptor)
    )
    const connection = yield* Deferred.poll(accepted)
    if (Option.isSome(connection)) return yield* connection.value
    return yield* Effect.fail(new TestClientError({ reason: "Rejected", response }))
  }) as Effect.Effect<
    MemoryConnection,
    E | TestClientError,
    Scope.Scope | Exclude<R, HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Scope.Scope>
  >

/** Runs `next` until what it gives satisfies `predicate`. */
const until = <A, E>(next: Effect.Effect<A, E>, predicate: (a: A) => boolean): Effect.Effect<A, E> => {
  const loop: Effect.Effect<A, E> = Effect.flatMap(next, (a) => (predicate(a) ? Effect.succeed(a) : loop))
  return loop
}

export const typed = <In, Out>(
  protocol: Protocol<In, Out>,
  client: TestClient
): TypedTestClient<In, Out> => {
  const receive: Effect.Effect<Out, TestClientError> = Effect.flatMap(client.receive, (frame) => {
    const decoded = protocol.decodeOutgoing(frame._tag === "Text" ? frame.text : frame.data)
    return Result.isSuccess(decoded)
      ? Effect.succeed(decoded.success)
      : Effect.fail(new TestClientError({ reason: "Undecodable", frame, error: decoded.failure }))
  })
  return {
    client,
    send: (value) =>
      Effect.suspend((): Effect.Effect<void, TestClientError | EncodeError> => {
        const encoded = protocol.encodeIncoming(value)
        if (Result.isFailure(encoded)) return Effect.fail(new EncodeError({ error: encoded.failure }))
        return typeof encoded.success === "string"
          ? client.sendText(encoded.success)
          : client.sendBinary(encoded.success)
      }),
    receive,
    receiveUntil: (predicate: (message: Out) => boolean) => until(receive, predicate),
    closed: client.closed,
    closeInfo: client.closeInfo
  }
}

/** What `Testing.webSocket` gives: a `WebSocket` class whose sockets reach `app` in memory. */
export interface MemoryServer {
  readonly WebSocket: WebSocketConstructor
  readonly drop: Effect.Effect<void>
  readonly refuse: (refusing: boolean) => Effect.Effect<void>
  readonly connections: Effect.Effect<number>
}

export const webSocket = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  options?: ConnectOptions
): Effect.Effect<
  MemoryServer,
  never,
  Scope.Scope | Exclude<R, HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Scope.Scope>
> =>
  Effect.gen(function*() {
    const runFork = yield* FiberSet.makeRuntime<
      Scope.Scope | Exclude<R, HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Scope.Scope>
    >()
    const live = new Set<MemoryWebSocket>()
    let refusing = false

    class MemoryWebSocket implements WebSocketLike {
      static readonly CONNECTING = 0
      static readonly OPEN = 1
      static readonly CLOSING = 2
      static readonly CLOSED = 3
      readyState = 0
      binaryType = "blob"
      onopen: ((event: any) => void) | null = null
      onmessage: ((event: { readonly data: unknown }) => void) | null = null
      onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null = null
      onerror: ((event: any) => void) | null = null
      private connection: MemoryConnection | undefined = undefined
      private aborted = false

      constructor(readonly url: string, protocols?: string | Array<string>) {
        const offered = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : protocols
        const headers = offered.length === 0
          ? options?.headers
          : { ...options?.headers, "sec-websocket-protocol": offered.join(", ") }
        const connect = refusing
          ? Effect.fail(new TestClientError({ reason: "Rejected" }))
          : accept(app, url, { ...options, headers })
        // never within the constructor: a browser's events come after the caller has set its handlers
        runFork(Effect.matchEffect(Effect.andThen(Effect.yieldNow, connect), {
          onFailure: () => Effect.sync(() => this.failed()),
          onSuccess: (connection) => this.opened(connection)
        }))
      }

      private failed(): void {
        this.readyState = 3
        this.onerror?.({ type: "error" })
        this.onclose?.({ code: Close.Abnormal, reason: "" })
      }

      private opened(connection: MemoryConnection): Effect.Effect<void> {
        if (this.aborted) return Effect.sync(() => connection.peerDrop())
        this.connection = connection
        this.readyState = 1
        live.add(this)
        this.onopen?.({ type: "open" })
        // the peer reads every frame as it comes, as a browser does; then the close
        const pump: Effect.Effect<void> = Effect.andThen(
          connection.awaitFrame,
          Effect.suspend(() => {
            for (let frame = connection.readFrame(); frame !== undefined; frame = connection.readFrame()) {
              const data = frame._tag === "Text" ? frame.text : frame.data.slice().buffer
              this.onmessage?.({ data })
            }
            const closed = connection.closedAs
            if (closed === undefined) return pump
            this.readyState = 3
            live.delete(this)
            this.onclose?.({ code: closed.code, reason: closed.reason })
            return Effect.void
          })
        )
        return pump
      }

      send(data: string | Uint8Array): void {
        if (this.readyState === 0) throw new Error("InvalidStateError: still connecting")
        if (this.readyState !== 1 || this.connection === undefined) return
        this.connection.peerSend(typeof data === "string" ? Message.TextMessage(data) : Message.BinaryMessage(data))
      }

      close(code?: number, reason?: string): void {
        if (this.readyState >= 2) return
        if (this.connection === undefined) {
          // closed while connecting: the connection fails, as a browser's does
          this.aborted = true
          runFork(Effect.sync(() => this.failed()))
          return
        }
        this.readyState = 2
        this.connection.peerClose(code, reason ?? "")
      }

      /** The transport is lost, without a close frame. */
      drop(): void {
        this.connection?.peerDrop()
      }
    }

    return {
      WebSocket: MemoryWebSocket,
      drop: Effect.sync(() => {
        for (const socket of [...live]) socket.drop()
      }),
      refuse: (refuse: boolean) =>
        Effect.sync(() => {
          refusing = refuse
        }),
      connections: Effect.sync(() => live.size)
    }
  })
