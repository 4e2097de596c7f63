/** A real Node server on 127.0.0.1, port 0, for as long as the surrounding scope. */
import { Cause, type Context, Effect, Exit, Layer, Logger, Scope } from "effect"
import { type Acceptor } from "effect-websocket"
import { NodeServer } from "effect-websocket/node"
import { HttpRouter, HttpServer, type HttpServerRequest, type HttpServerResponse } from "effect/http"
import { createServer } from "node:http"
import type * as Net from "node:net"
import { portOf } from "./raw.js"

export * from "./raw.js"

/**
 * Replaces the loggers: every line goes to `lines` as `LEVEL message`, with the cause when one was
 * logged (`ERROR effect-websocket: ...`).
 */
export const logLines = (lines: Array<string>): Layer.Layer<never> =>
  Logger.layer([Logger.make(({ cause, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push(`${logLevel.toUpperCase()} ${text}${cause.reasons.length === 0 ? "" : ` ${Cause.pretty(cause)}`}`)
  })])

export interface RunningServer {
  readonly port: number
  /** What the server logged, each line as `logLines` writes it. */
  readonly logs: Array<string>
  /** The sockets of the upgrade requests the server saw, in order: the server's side of each connection. */
  readonly sockets: ReadonlyArray<Net.Socket>
  /** Shuts the server down (as its scope closing would), waiting for it. */
  readonly shutdown: Effect.Effect<void>
}

/** An app as `HttpServer.serve` takes it, on a server that provides an `Acceptor`. */
export type App<E = unknown> = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  E,
  HttpServerRequest.HttpServerRequest | Acceptor.Acceptor | Scope.Scope
>

/**
 * What `serve` serves: the routes of an `HttpRouter` (a Layer of `HttpRouter.add`s, served with
 * `HttpRouter.serve`, without its logger), or an app.
 */
export type Served<E = unknown> = App<E> | Layer.Layer<never, unknown, any>

export interface ServeOptions {
  /** Applied to the app (or the router's app), as `HttpServer.serve`'s middleware. */
  readonly middleware?: (app: App<any>) => App<any>
}

/** A route at `path` (GET unless `method`), as a router Layer for `serve`. */
export const route = <E, R>(
  path: `/${string}`,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  method: "GET" | "*" = "GET"
) => HttpRouter.add(method, path, handler)

/** The Layer that serves `app` (with `HttpServer`, `Acceptor` and its other services still to provide). */
export const serveLayer = (app: Served, options?: ServeOptions): Layer.Layer<never, unknown, any> =>
  Layer.isLayer(app)
    ? HttpRouter.serve(app, {
      disableLogger: true,
      disableListenLog: true,
      ...(options?.middleware === undefined ? {} : { middleware: options.middleware as any })
    })
    : HttpServer.serve(options?.middleware === undefined ? app as App : options.middleware(app as App)) as Layer.Layer<
      never,
      unknown,
      any
    >

export const serve = (app: Served, options?: ServeOptions): Effect.Effect<RunningServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const sockets: Array<Net.Socket> = []
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* serveLayer(app, options).pipe(
      Layer.provideMerge(NodeServer.layer(() => {
        const server = createServer()
        server.on("upgrade", (_request, socket: Net.Socket) => sockets.push(socket))
        return server
      }, { port: 0, host: "127.0.0.1" })),
      Layer.provide(logLines(logs)),
      Layer.buildWithScope(scope),
      Effect.orDie
    )
    return { port: portOf(context as Context.Context<never>), logs, sockets, shutdown: Scope.close(scope, Exit.void) }
  })
