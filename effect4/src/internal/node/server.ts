/**
 * The server side of Node: what the library adds to a Node `http.Server` before the platform serves
 * on it. The per-socket transport is in `nodeTransport.ts`.
 */
import type * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as Etag from "effect/http/Etag"
import type * as HttpPlatform from "effect/http/HttpPlatform"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerError from "effect/http/HttpServerError"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { LazyArg } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Http from "node:http"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"
import type * as Acceptor from "../../Acceptor.js"
import * as InternalAcceptor from "../acceptor.js"
import * as NodeTransport from "./transport.js"

export type Provided = HttpServer.HttpServer | HttpPlatform.HttpPlatform | Etag.Generator | NodeContext.NodeContext

/** What a server answers to an upgrade request that nothing serves (before `serve`, or shutting down). */
export const serviceUnavailable = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

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
 * that came with the handshake for the transport.
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
    if (head.length > 0) NodeTransport.keepHead(socket, head)
    if (server.listenerCount("upgrade") === 1) socket.end(serviceUnavailable)
  })
  return server
}

/**
 * `NodeHttpServer.layer` (or `layerConfig`, through `platform`) on a server that `guard` protects, the
 * Node `Acceptor`, and the platform's `HttpServer` wrapped so that the connections close when the scope
 * of `HttpServer.serve` closes.
 *
 * Why there: the services a route's handlers use are provided to the `serve` layer, and are released
 * right after it, whatever the order of `Layer.provide` puts the server layer in. A connection must
 * run its `onClose` while they are alive, so the shutdown (stop taking upgrades, 1001 to every open
 * connection, wait for each up to its `closeTimeout`) is the last finalizer `serve` adds, and so runs
 * first, before the platform detaches its listeners and before any of those services is released. The
 * acceptor's own finalizer, when the server layer's scope closes, is then left with no connection
 * (or with those of an app that did not go through `serve`), and answers late requests with 503.
 */
export const layerFrom = <E, R>(
  evaluate: LazyArg<Http.Server>,
  platform: (server: LazyArg<Http.Server>) => Layer.Layer<Provided, E, R>
): Layer.Layer<Provided | Acceptor.Acceptor, E, R> =>
  Layer.unwrapEffect(
    Effect.map(Effect.runtime<never>(), (runtime) => {
      let server: Http.Server | undefined = undefined
      const acceptor = Layer.scoped(
        InternalAcceptor.Acceptor,
        InternalAcceptor.make(NodeTransport.accept, {
          onShutdown: Effect.sync(() => {
            if (server !== undefined) refuseNewConnections(server)
          })
        })
      )
      const serving = Layer.effectContext(
        Effect.map(Effect.context<Provided | Acceptor.Acceptor>(), (context) => {
          const platformServer = Context.get(context, HttpServer.HttpServer)
          // the overloads of `serve` come down to this one signature, as `HttpServer.make` takes it
          const serve = platformServer.serve as Parameters<typeof HttpServer.make>[0]["serve"]
          const owner = Context.get(context, InternalAcceptor.Acceptor) as InternalAcceptor.AcceptorImpl
          return Context.add(
            context,
            HttpServer.HttpServer,
            HttpServer.make({
              address: platformServer.address,
              serve: (app, middleware) =>
                Effect.zipRight(
                  serve(app, middleware),
                  Effect.addFinalizer(() =>
                    Effect.suspend(() => {
                      if (server !== undefined) stopListening(server)
                      return owner.shutdown
                    })
                  )
                )
            })
          )
        })
      )
      return Layer.provide(serving, Layer.provideMerge(acceptor, platform(() => (server = guard(evaluate(), runtime)))))
    })
  )

/** `NodeHttpServer.layer` on a server that `guard` protects, with the Node `Acceptor`. */
export const layer = (
  evaluate: LazyArg<Http.Server>,
  options: Net.ListenOptions
): Layer.Layer<Provided | Acceptor.Acceptor, HttpServerError.ServeError> =>
  layerFrom(evaluate, (guarded) => NodeHttpServer.layer(guarded, options))

/** `NodeHttpServer.layerConfig` on a server that `guard` protects, with the Node `Acceptor`. */
export const layerConfig = (
  evaluate: LazyArg<Http.Server>,
  options: Config.Config.Wrap<Net.ListenOptions>
): Layer.Layer<Provided | Acceptor.Acceptor, HttpServerError.ServeError | ConfigError.ConfigError> =>
  layerFrom(evaluate, (guarded) => NodeHttpServer.layerConfig(guarded, options))

const refusing = new WeakSet<Http.Server>()
const stopped = new WeakSet<Http.Server>()
const ignore = () => {}

/**
 * Stops accepting TCP connections (and closes idle keep-alive ones); the platform's own `close` comes
 * later and then has nothing to wait for. Idempotent per server.
 */
const stopListening = (server: Http.Server): void => {
  if (stopped.has(server)) return
  stopped.add(server)
  server.close()
}

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
  stopListening(server)
}
