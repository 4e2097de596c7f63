/**
 * The server side of Node: what the library adds to a Node `http.Server` before the platform serves
 * on it. The per-socket transport is in `nodeTransport.ts`.
 */
import type * as Etag from "@effect/platform/Etag"
import type * as HttpPlatform from "@effect/platform/HttpPlatform"
import type * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as NodeContext from "@effect/platform-node/NodeContext"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import type { LazyArg } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Http from "node:http"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"

export type Provided = HttpServer.HttpServer | HttpPlatform.HttpPlatform | Etag.Generator | NodeContext.NodeContext

/** What a server answers to an upgrade request that nothing serves (before `serve`, or shutting down). */
export const serviceUnavailable = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

/**
 * The bytes a client sent right after its handshake, in the same packet (its first frames): Node
 * hands them to the `'upgrade'` listeners only, and the platform's request does not carry them.
 */
const heads = new WeakMap<Duplex, Buffer>()

/** What the client sent after the handshake of the upgrade request on `socket`, taken once. */
export const takeHead = (socket: Duplex): Buffer | undefined => {
  const head = heads.get(socket)
  if (head !== undefined) heads.delete(socket)
  return head
}

/**
 * Makes every upgrade request on `server` safe from socket errors, and answers those that nothing
 * serves.
 *
 * Node hands an upgrade request's socket to the `'upgrade'` listeners with no `'error'` listener of
 * its own, and @effect/platform-node 0.108 adds none before `ws` takes the socket (or ever, when the
 * route refuses the handshake): a peer that resets the connection then crashes the process with an
 * unhandled `'error'` event. This listener runs for every upgrade request, routed to the library or
 * not, and is on the server for its whole life. The platform's own listener still answers the
 * request; the socket's `'close'` interrupts the request's fiber as usual. It also keeps the bytes
 * that came with the handshake for the transport (`takeHead`).
 *
 * Node destroys an upgrade socket when no listener is registered; with this one always there, a
 * request that arrives while no other listener is (the app is not serving yet, or the platform has
 * already detached while shutting down) gets 503 instead of hanging.
 */
export const guard = (server: Http.Server, runtime: Runtime.Runtime<never>): Http.Server => {
  const log = Runtime.runFork(runtime)
  // the address is read now: once the peer has reset, the socket no longer knows it
  const onSocketError = (remoteAddress: string) => (error: Error & { readonly code?: string }) => {
    log(
      Effect.logDebug("effect-websocket: socket error on an upgrade request").pipe(
        Effect.annotateLogs({ remoteAddress, error: error.code ?? error.message })
      )
    )
  }
  server.prependListener("upgrade", (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", onSocketError(request.socket.remoteAddress ?? "unknown"))
    if (head.length > 0) heads.set(socket, head)
    if (server.listenerCount("upgrade") === 1) socket.end(serviceUnavailable)
  })
  return server
}

/** `NodeHttpServer.layer` on a server that `guard` protects. */
export const layer = (
  evaluate: LazyArg<Http.Server>,
  options: Net.ListenOptions
): Layer.Layer<Provided, HttpServerError.ServeError> =>
  Layer.unwrapEffect(
    Effect.map(Effect.runtime<never>(), (runtime) => NodeHttpServer.layer(() => guard(evaluate(), runtime), options))
  )

/** `NodeHttpServer.layerConfig` on a server that `guard` protects. */
export const layerConfig = (
  evaluate: LazyArg<Http.Server>,
  options: Config.Config.Wrap<Net.ListenOptions>
): Layer.Layer<Provided, HttpServerError.ServeError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.runtime<never>(),
      (runtime) => NodeHttpServer.layerConfig(() => guard(evaluate(), runtime), options)
    )
  )

const refusing = new WeakSet<Http.Server>()
const ignore = () => {}

/**
 * When the server's scope closes, @effect/platform-node first removes its request listeners, then
 * waits for the running handlers (our connections, for up to `closeTimeout`), and only then stops
 * listening: meanwhile new connections would be accepted and never answered, and would keep the
 * process alive. Stop listening now and answer stragglers with 503. Idempotent per server.
 */
export const refuseNewConnections = (server: Http.Server): void => {
  if (refusing.has(server)) return
  refusing.add(server)
  server.on("request", (_request: Http.IncomingMessage, response: Http.ServerResponse) => {
    response.writeHead(503, { connection: "close", "content-length": "0" })
    response.end()
  })
  server.on("upgrade", (_request: Http.IncomingMessage, socket: Duplex) => {
    // on a server `guard` does not protect, this is the socket's only listener
    socket.on("error", ignore)
    socket.end(serviceUnavailable)
  })
  // stops accepting and closes idle keep-alive connections; the platform's own close comes later
  server.close()
}
