/**
 * What the library assumes of @effect/platform-node (0.108) beyond its public API, in one place.
 * Each assumption has a test that fails on an installed version that breaks it
 * (test/unit/compat.test.ts, test/e2e/NodeServer.test.ts); where the library cannot rely on one, it says so
 * in a warning instead of going on silently.
 *
 * Once the route has returned, the platform keeps the request's fiber from two places for as long as
 * the socket lives: a 'close' listener it adds right after the route returns (to interrupt the fiber
 * should the client leave, long done for an upgraded connection), and the request object itself,
 * whose lazy `response` and `upgradeEffect` (and the response's 'finish' listener) are closures over
 * the fiber; the connection keeps the request for its handlers. The fiber holds the request's context
 * and span: several KiB per idle connection.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type { Duplex } from "node:stream"

/** The platform's request object, as its upgrade handler makes it. */
interface PlatformRequest {
  response: unknown
  upgradeEffect: unknown
}

/**
 * Why `request` is not what `forgetRequest` expects of the platform's upgrade requests, or
 * `undefined` when it is.
 */
export const unexpected = (request: HttpServerRequest.HttpServerRequest): string | undefined =>
  "upgradeEffect" in request && "response" in request
    ? undefined
    : "@effect/platform-node's upgrade request no longer has the fields response and upgradeEffect"

/** What the request's response is once the 101 is out: ended, so the platform writes nothing. */
const upgradedResponse = { writableEnded: true, headersSent: true }

/**
 * Lets the platform's request fiber go once the route has returned: an ended stand-in replaces the
 * lazy response, the platform's own upgrade (never used here) is dropped, and everything added to
 * 'close' between the upgrade and the next tick is removed. Returns why it could not (the request is
 * not as expected), for the caller to say once.
 */
export const forgetRequest = (request: HttpServerRequest.HttpServerRequest, socket: Duplex): string | undefined => {
  const problem = unexpected(request)
  if (problem === undefined) {
    const platformRequest = request as unknown as PlatformRequest
    // its 'finish' would end the socket; detached and ended, it never finishes
    NodeHttpServerRequest.toServerResponse(request).removeAllListeners("finish")
    platformRequest.response = upgradedResponse
    platformRequest.upgradeEffect = undefined
  }
  const upgraded = new Set(socket.listeners("close"))
  process.nextTick(() => {
    for (const listener of socket.listeners("close")) {
      if (!upgraded.has(listener)) socket.removeListener("close", listener as (...args: Array<unknown>) => void)
    }
  })
  return problem
}
