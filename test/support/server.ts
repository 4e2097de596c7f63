/** A real Node server on 127.0.0.1, port 0, for as long as the surrounding scope. */
import { type HttpApp, HttpServer } from "@effect/platform"
import { Deferred, Duration, Effect, Exit, Layer, Schedule, Scope } from "effect"
import { type Acceptor } from "effect-websocket"
import { NodeServer } from "effect-websocket/node"
import { createServer } from "node:http"
import * as Net from "node:net"
import { captureLogs } from "./logs.js"

export interface RunningServer {
  readonly port: number
  /** What the server logged, each line as `captureLogs` writes it. */
  readonly logs: Array<string>
  /** The sockets of the upgrade requests the server saw, in order: the server's side of each connection. */
  readonly sockets: ReadonlyArray<Net.Socket>
  /** Shuts the server down (as its scope closing would), waiting for it. */
  readonly shutdown: Effect.Effect<void>
}

/** Serves `app` on 127.0.0.1 at `port` (0, any free port, unless told: a restart on the same port). */
export const serve = <E>(
  app: HttpApp.Default<E, Acceptor.Acceptor>,
  options?: { readonly port?: number | undefined }
): Effect.Effect<RunningServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const sockets: Array<Net.Socket> = []
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* HttpServer.serve(app).pipe(
      Layer.provideMerge(NodeServer.layer(() => {
        const server = createServer()
        server.on("upgrade", (_request, socket: Net.Socket) => sockets.push(socket))
        return server
      }, { port: options?.port ?? 0, host: "127.0.0.1" })),
      Layer.provide(captureLogs(logs)),
      Layer.buildWithScope(scope),
      Effect.orDie
    )
    const server = context.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer
    const port = (server.address as { readonly port: number }).port
    return { port, logs, sockets, shutdown: Scope.close(scope, Exit.void) }
  })

export const within = <A, E, R>(what: string, self: Effect.Effect<A, E, R>, seconds = 5) =>
  self.pipe(
    Effect.timeoutFail({ duration: Duration.seconds(seconds), onTimeout: () => new Error(`timed out: ${what}`) }),
    Effect.orDie
  )

/** Runs `check` every `every` until it succeeds with `true`; the test fails after `seconds`. */
export const eventually = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  seconds = 10,
  every: Duration.DurationInput = "20 millis"
) => within(what, Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced(every) }), seconds)

/** A raw TCP connection, for requests and frames a well-behaved client would never send. */
export interface RawSocket {
  readonly write: (bytes: string | Uint8Array) => Effect.Effect<void>
  /** Resolves with everything received once at least `predicate` holds. */
  readonly readUntil: (predicate: (received: Buffer) => boolean) => Effect.Effect<Buffer>
  /** Resolves when the server has closed the connection; with all bytes received. */
  readonly ended: Effect.Effect<Buffer>
  readonly socket: Net.Socket
}

export const rawConnect = (port: number): Effect.Effect<RawSocket, never, Scope.Scope> =>
  Effect.gen(function*() {
    const socket = yield* Effect.acquireRelease(
      Effect.async<Net.Socket>((resume) => {
        // a refused connection must fail the test, not hang it: the acquisition cannot be interrupted
        const refused = (error: Error) => resume(Effect.die(error))
        const socket = Net.connect(port, "127.0.0.1", () => {
          socket.off("error", refused)
          resume(Effect.succeed(socket))
        })
        socket.once("error", refused)
      }),
      (socket) => Effect.sync(() => socket.destroy())
    )
    let received = Buffer.alloc(0)
    const waiters = new Set<() => void>()
    const ended = yield* Deferred.make<Buffer>()
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      for (const waiter of waiters) waiter()
    })
    socket.on("close", () => {
      Deferred.unsafeDone(ended, Exit.succeed(received))
      for (const waiter of waiters) waiter()
    })
    socket.on("error", () => {})
    return {
      socket,
      write: (bytes) => Effect.sync(() => void socket.write(bytes)),
      readUntil: (predicate) =>
        within(
          "raw read",
          Effect.async<Buffer>((resume) => {
            const check = () => {
              if (predicate(received)) {
                waiters.delete(check)
                resume(Effect.succeed(received))
              }
            }
            waiters.add(check)
            check()
            return Effect.sync(() => waiters.delete(check))
          })
        ),
      ended: within("server closes the socket", Deferred.await(ended))
    }
  })

/** The headers of a valid handshake request (RFC 6455, 4.1), with the RFC's sample key. */
export const handshakeHeaders = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="
}

/** A request head; `Host: 127.0.0.1` unless `headers` has a Host of its own. */
export const handshakeRequest = (path: string, headers: Record<string, string>, method = "GET") =>
  `${method} ${path} HTTP/1.1\r\n` +
  (Object.keys(headers).some((name) => name.toLowerCase() === "host") ? "" : "Host: 127.0.0.1\r\n") +
  Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("") +
  "\r\n"

export const statusOf = (response: Buffer): number => Number(response.toString("latin1").split(" ")[1])

/** A masked client frame (RFC 6455, 5.2). */
export const clientFrame = (
  opcode: number,
  payload: Uint8Array,
  { fin = true, mask = true, rsv = 0 }: { fin?: boolean; mask?: boolean; rsv?: number } = {}
): Buffer => {
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78])
  const length = payload.length
  const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10)
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode
  if (length < 126) header[1] = length
  else if (length < 65536) {
    header[1] = 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  if (!mask) return Buffer.concat([header, Buffer.from(payload)])
  header[1] |= 0x80
  const masked = Buffer.from(payload.map((byte, i) => byte ^ key[i % 4]))
  return Buffer.concat([header, key, masked])
}

/** The close code of the first close frame (opcode 8) the server sent after the 101, if any. */
export const serverCloseCode = (received: Buffer): number | undefined => {
  let offset = received.indexOf("\r\n\r\n") + 4
  while (offset + 2 <= received.length) {
    const opcode = received[offset] & 0x0f
    let length = received[offset + 1] & 0x7f
    let start = offset + 2
    if (length === 126) {
      length = received.readUInt16BE(offset + 2)
      start = offset + 4
    } else if (length === 127) {
      length = Number(received.readBigUInt64BE(offset + 2))
      start = offset + 10
    }
    if (opcode === 8) return length >= 2 ? received.readUInt16BE(start) : 1005
    offset = start + length
  }
  return undefined
}
