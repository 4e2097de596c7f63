/**
 * The server side of Node: what the library adds to a Node `http.Server` before the platform serves
 * on it. The per-socket transport is in `transport.ts`.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as NodeServices from "@effect/platform-node/NodeServices"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { LazyArg } from "effect/Function"
import type * as Etag from "effect/http/Etag"
import type * as HttpPlatform from "effect/http/HttpPlatform"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerError from "effect/http/HttpServerError"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Http from "node:http"
import type { Duplex } from "node:stream"
import type * as Acceptor from "../../Acceptor.js"
import * as InternalAcceptor from "../acceptor.js"
import * as CompatPlatform from "./compat/platform-node.js"
import * as NodeTransport from "./transport.js"

export type Provided =
  | HttpServer.HttpServer
  | HttpPlatform.HttpPlatform
  | Etag.Generator
  | NodeServices.NodeServices

/**
 * The options of `NodeHttpServer.layer` but `websocket`, which configures the platform's own `ws`
 * server: WebSocket routes take theirs from `upgradeWebSocket`.
 */
export type Options = Omit<NodeHttpServer.Options, "websocket">

/** What a server answers to an upgrade request that nothing serves (before `serve`, or shutting down). */
export const serviceUnavailable = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

/** The servers `serve` is serving on, with the `'upgrade'` listener it added after the platform's. */
const serving = new WeakMap<Http.Server, (request: Http.IncomingMessage, socket: Duplex) => void>()

/**
 * Makes every upgrade request on `server` safe from socket errors, and answers those that nothing
 * serves.
 *
 * Node hands an upgrade request's socket to the `'upgrade'` listeners with no `'error'` listener of
 * its own. @effect/platform-node 4 adds one once the request's fiber has started, but not before, and
 * none while it is not serving; this listener runs first for every upgrade request, routed to the
 * library or not, and is on the server for its whole life, so the library does not depend on when or
 * whether the platform adds one (once `ws` has upgraded the connection, its own listener takes over). It
 * also keeps the bytes that came with the handshake for the transport (the platform keeps them for its
 * own upgrade only), and notes the socket's listeners for the release of the platform's
 * (compat/platform-node.ts).
 *
 * Node destroys an upgrade socket when no listener is registered; with this one always there, a
 * request that arrives while no other listener is (the app is not serving yet, or the platform has
 * already detached while shutting down) gets 503 instead of hanging.
 */
export const guard = (server: Http.Server, context: Context.Context<never>): Http.Server => {
  const log = Effect.runForkWith(context)
  // the address is read now: once the peer has reset, the socket no longer knows it
  const onSocketError = (remoteAddress: string) => (error: Error & { readonly code?: string }) => {
    log(
      Effect.logDebug("effect-websocket: socket error on an upgrade request").pipe(
        Effect.annotateLogs({ remoteAddress, error: error.code ?? error.message })
      )
    )
  }
  server.prependListener("upgrade", (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const onError = onSocketError(request.socket.remoteAddress ?? "unknown")
    socket.on("error", onError)
    if (server.listenerCount("upgrade") === 1) {
      socket.end(serviceUnavailable)
      return
    }
    NodeTransport.keepUpgrading(socket, head, onError)
    if (serving.has(server)) CompatPlatform.beforeUpgrade(socket)
  })
  return server
}

/**
 * `NodeHttpServer.layer` (or `layerConfig`, through `platform`) on a server that `guard` protects, the
 * Node `Acceptor`, and the platform's `HttpServer` wrapped so that the connections close when the scope
 * of `HttpServer.serve` closes.
 *
 * Why there: the services a route's handlers use are provided to the `serve` layer, and are released
 * right after it, whatever the order of `Layer.provide` puts the server layer in; and the platform's
 * own finalizer in that scope ends every upgraded socket at once (a peer sees 1006, and `onClose` would
 * run after the fact). A connection must close with 1001 and run its `onClose` while the services are
 * alive, so the shutdown (stop taking upgrades, 1001 to every open connection, wait for each up to its
 * `closeTimeout`) is the last finalizer `serve` adds, and so runs first, before the platform's. The
 * platform's graceful shutdown of HTTP requests (`gracefulShutdownTimeout`) follows as usual. The
 * acceptor's own finalizer, when the server layer's scope closes, is then left with no connection (or
 * with those of an app that did not go through `serve`), and answers late requests with 503.
 *
 * `serve` also adds the `'upgrade'` listener that releases what the platform keeps per upgraded
 * connection (compat/platform-node.ts), right after the platform's own.
 */
export const layerFrom = <E, R>(
  evaluate: LazyArg<Http.Server>,
  platform: (server: LazyArg<Http.Server>) => Layer.Layer<Provided, E, R>
): Layer.Layer<Provided | Acceptor.Acceptor, E, R> =>
  Layer.unwrap(
    Effect.map(Effect.context<never>(), (context) => {
      let server: Http.Server | undefined = undefined
      const acceptor = Layer.effect(
        InternalAcceptor.Acceptor,
        InternalAcceptor.make(NodeTransport.accept, {
          onShutdown: Effect.sync(() => {
            if (server !== undefined) refuseNewConnections(server)
          })
        })
      )
      const wrapped = Layer.effectContext(
        Effect.map(Effect.context<Provided | Acceptor.Acceptor>(), (services) => {
          const platformServer = Context.get(services, HttpServer.HttpServer)
          // the overloads of `serve` come down to this one signature, as `HttpServer.make` takes it
          const serve = platformServer.serve as Parameters<typeof HttpServer.make>[0]["serve"]
          const owner = Context.get(services, InternalAcceptor.Acceptor) as InternalAcceptor.AcceptorImpl
          return Context.add(
            services,
            HttpServer.HttpServer,
            HttpServer.make({
              address: platformServer.address,
              serve: (app, middleware) =>
                Effect.andThen(serve(app, middleware), Effect.suspend(() => afterServe(server, owner)))
            })
          )
        })
      )
      return Layer.provide(
        wrapped,
        Layer.provideMerge(acceptor, platform(() => (server = guard(evaluate(), context))))
      )
    })
  )

/**
 * What `serve` adds once the platform serves: the `'upgrade'` listener after the platform's, and the
 * finalizer that closes the connections before the platform's finalizer runs.
 */
const afterServe = (
  server: Http.Server | undefined,
  owner: InternalAcceptor.AcceptorImpl
): Effect.Effect<void, never, Scope.Scope> => {
  if (server !== undefined && !serving.has(server)) {
    const afterUpgrade = (_request: Http.IncomingMessage, socket: Duplex) => {
      const problem = CompatPlatform.afterUpgrade(socket)
      if (problem !== undefined) NodeTransport.warnOnce(`${problem}; idle connections keep more memory`)
    }
    serving.set(server, afterUpgrade)
    server.on("upgrade", afterUpgrade)
  }
  return Effect.addFinalizer(() =>
    Effect.ensuring(
      owner.shutdown,
      Effect.sync(() => {
        // no upgrade is accepted any more: the routes answer 503
        const afterUpgrade = server === undefined ? undefined : serving.get(server)
        if (afterUpgrade === undefined) return
        serving.delete(server!)
        server!.off("upgrade", afterUpgrade)
      })
    )
  )
}

/** `NodeHttpServer.layer` on a server that `guard` protects, with the Node `Acceptor`. */
export const layer = (
  evaluate: LazyArg<Http.Server>,
  options: Options
): Layer.Layer<Provided | Acceptor.Acceptor, HttpServerError.ServeError> =>
  layerFrom(evaluate, (guarded) => NodeHttpServer.layer(guarded, options))

/** `NodeHttpServer.layerConfig` on a server that `guard` protects, with the Node `Acceptor`. */
export const layerConfig = (
  evaluate: LazyArg<Http.Server>,
  options: Config.Wrap<Options>
): Layer.Layer<Provided | Acceptor.Acceptor, HttpServerError.ServeError | Config.ConfigError> =>
  layerFrom(evaluate, (guarded) => NodeHttpServer.layerConfig(guarded, options))

const refusing = new WeakSet<Http.Server>()
const ignore = () => {}

/**
 * Once the server's scope closes (after `serve`'s, whose platform finalizer stopped listening and
 * removed the platform's listeners): answer stragglers on connections still open with 503, and stop
 * listening when no `serve` did. Idempotent per server.
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
  if (server.listening) server.close()
}
