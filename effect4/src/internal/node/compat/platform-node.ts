/**
 * What the library assumes of @effect/platform-node (4.1) beyond its public API, in one place. Each
 * assumption has a test that fails on an installed version that breaks it (test/unit/compat.test.ts,
 * test/e2e/NodeServer.test.ts); where the library cannot rely on one, it says so in a warning instead of
 * going on silently.
 *
 * The platform's `'upgrade'` listener (added by `HttpServer.serve`) tracks the socket with a
 * `once('close')` listener, starts the app's fiber for the request (a route that does not wait runs to
 * its end right there) and then adds two listeners of its own to the socket: `'error'` (ignores) and
 * `'close'` (interrupts the fiber unless the socket was ended). Both are closures of the handler, and
 * so is the request's lazy `response` and its `upgradeState` (the platform's own upgrade): each keeps
 * the handler's whole scope, the request's fiber among it (its context, its span), for as long as the
 * socket lives. An upgraded connection keeps its socket and its request for its handlers: without
 * these releases an idle connection would keep several KiB more.
 *
 * So, for each upgrade request, `beforeUpgrade` (the library's first `'upgrade'` listener) notes the
 * socket's listeners, and `afterUpgrade` (its last one, after the platform's) finds the two the
 * platform's handler added. Once the library has upgraded the connection (`forgetRequest`), both are
 * removed and the request's fields replaced, whichever of the two comes first.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type { Duplex } from "node:stream"

/** The platform's request object, as its upgrade handler makes it. */
interface PlatformRequest {
  response: unknown
  upgradeState: unknown
}

type Listener = (...args: Array<any>) => void

/** The listeners the platform's upgrade handler left on a socket. */
interface PlatformListeners {
  readonly error: Listener
  readonly close: Listener
  /** The `once('close')` that takes the socket out of the platform's set of upgraded sockets. */
  readonly tracking: Listener
}

/** The upgrade request being dispatched to the server's `'upgrade'` listeners: they run one after the other. */
interface Emission {
  readonly socket: Duplex
  /** The socket's `'error'` and `'close'` listeners before the platform's listener ran. */
  readonly before: ReadonlySet<unknown>
  /** Set when the connection was upgraded during the dispatch: the listeners on the socket right after. */
  upgraded: ReadonlySet<unknown> | undefined
}

/** The socket's `'error'` and `'close'` listeners, as `rawListeners` returns them. */
const listenersOf = (socket: Duplex): Set<unknown> =>
  new Set([...socket.rawListeners("error"), ...socket.rawListeners("close")])

let emission: Emission | undefined = undefined

/**
 * The platform's listeners on sockets whose route is still deciding (it waited), until `forgetRequest`;
 * or why they were not found.
 */
const pending = new WeakMap<Duplex, PlatformListeners | string>()

/**
 * Why `request` is not what `forgetRequest` expects of the platform's upgrade requests, or
 * `undefined` when it is.
 */
export const unexpected = (request: HttpServerRequest.HttpServerRequest): string | undefined =>
  "upgradeState" in request && "response" in request
    ? undefined
    : "@effect/platform-node's upgrade request no longer has the fields response and upgradeState"

/** What the request's response is once the 101 is out: ended, so the platform writes nothing. */
const upgradedResponse = { writableEnded: true, headersSent: true }

/** A listener added with `once`, as `rawListeners` returns it (Node's wrapper). */
const isOnce = (listener: unknown): boolean =>
  typeof listener === "function" && typeof (listener as { readonly listener?: unknown }).listener === "function"

/**
 * The first `'upgrade'` listener of the server (before the platform's): notes what the socket already
 * has, for `afterUpgrade`.
 */
export const beforeUpgrade = (socket: Duplex): void => {
  emission = { socket, before: listenersOf(socket), upgraded: undefined }
}

/**
 * The listeners the platform's upgrade handler added during the dispatch: one `'error'`, and one
 * `'close'` after the tracking `once('close')` (which the connection leaves: it only takes the socket
 * out of the platform's set once closed). `upgraded` are the listeners known right after the upgrade,
 * when it happened during the dispatch (the transport's, `ws`'s and those before). A string says why
 * they are not as expected.
 */
const platformListeners = (current: Emission): PlatformListeners | string => {
  const known = current.upgraded
  const added = (event: "error" | "close") =>
    current.socket.rawListeners(event).filter((listener) =>
      !current.before.has(listener) && (known === undefined || !known.has(listener))
    )
  const errors = added("error")
  const closes = added("close")
  // the tracking once('close') comes before the route runs: it is among the known ones after an upgrade
  const tracking = known === undefined ? 1 : 0
  if (
    errors.length !== 1 || closes.length !== tracking + 1 || isOnce(errors[0]) || isOnce(closes[tracking]) ||
    (tracking === 1 && !isOnce(closes[0]))
  ) {
    return "@effect/platform-node's upgrade handler no longer adds one 'error' and one 'close' listener to the " +
      `socket after its once('close') (found ${errors.length} 'error' and ${closes.length} 'close' listeners)`
  }
  // after an upgrade the tracking once('close') is among the known ones: the only once('close') added
  // since the dispatch began (ws and the transport add plain listeners)
  const trackers = tracking === 1
    ? [closes[0]]
    : current.socket.rawListeners("close").filter((listener) => !current.before.has(listener) && isOnce(listener))
  if (trackers.length !== 1) {
    return "@effect/platform-node's upgrade handler no longer tracks the socket with one once('close') " +
      `(found ${trackers.length})`
  }
  return { error: errors[0] as Listener, close: closes[tracking] as Listener, tracking: trackers[0] as Listener }
}

/**
 * Removes the platform's listeners from an upgraded socket, and takes the socket out of the platform's
 * set of upgraded sockets now (its tracking listener, called and removed): the set is for ending the
 * sockets when the server shuts down, which the connections have done by then (NodeServer closes them
 * with 1001 in the serve scope, before the platform's finalizer), and each entry keeps the socket's
 * listener array and two closures (0.4 KiB an idle connection).
 */
const release = (socket: Duplex, listeners: PlatformListeners): void => {
  socket.removeListener("error", listeners.error)
  socket.removeListener("close", listeners.close)
  socket.removeListener("close", listeners.tracking)
  ;(listeners.tracking as unknown as { readonly listener: () => void }).listener()
}

/**
 * The last `'upgrade'` listener of the server, added right after the platform's by `serve`: the
 * platform's handler has returned and its listeners are on the socket. They are removed at once when
 * the connection was upgraded meanwhile, and kept for `forgetRequest` when the route is still deciding
 * (they end the request's fiber should the client leave). Returns why they could not be removed from
 * an upgraded connection, for the caller to say once.
 */
export const afterUpgrade = (socket: Duplex): string | undefined => {
  const current = emission
  emission = undefined
  if (current === undefined || current.socket !== socket) return undefined
  const listeners = platformListeners(current)
  if (current.upgraded === undefined) {
    pending.set(socket, listeners)
    return undefined
  }
  if (typeof listeners === "string") return listeners
  release(socket, listeners)
  return undefined
}

/**
 * Lets the platform's request fiber go once the connection is upgraded: an ended stand-in replaces the
 * lazy response (so the platform writes nothing), the platform's own upgrade is dropped, and the
 * platform's listeners are removed from the socket (now, or by `afterUpgrade` when the upgrade happened
 * while the platform's listener was still running). Returns why it could not (the request or the
 * listeners are not as expected), for the caller to say once.
 */
export const forgetRequest = (request: HttpServerRequest.HttpServerRequest, socket: Duplex): string | undefined => {
  const problem = unexpected(request)
  if (problem === undefined) {
    const platformRequest = request as unknown as PlatformRequest
    // its 'finish' would end the socket; detached and ended, it never finishes
    NodeHttpServerRequest.toServerResponse(request).removeAllListeners("finish")
    platformRequest.response = upgradedResponse
    platformRequest.upgradeState = undefined
  }
  const current = emission
  if (current !== undefined && current.socket === socket) {
    current.upgraded = listenersOf(socket)
    return problem
  }
  const listeners = pending.get(socket)
  pending.delete(socket)
  if (listeners === undefined) {
    return problem ?? "the upgrade request did not go through the listeners of NodeServer (afterUpgrade)"
  }
  if (typeof listeners === "string") return problem ?? listeners
  release(socket, listeners)
  return problem
}
