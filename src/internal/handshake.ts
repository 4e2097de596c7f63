/** Validation of the client's opening handshake (RFC 6455, 4.2.1), before any transport sees it. */
import type * as Headers from "@effect/platform/Headers"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"

const keyPattern = /^[+/0-9A-Za-z]{22}==$/

const hasToken = (header: string | undefined, token: string): boolean =>
  header !== undefined && header.split(",").some((part) => part.trim().toLowerCase() === token)

const reject = (status: number, message: string, headers?: Record<string, string>) =>
  HttpServerResponse.text(message, { status, ...(headers === undefined ? {} : { headers }) })

/**
 * The response that refuses a request which is not a valid WebSocket handshake, or `undefined` when it
 * is one: 426 when the request does not ask for WebSocket at all or asks for another protocol version
 * (with the headers that say what to use), 400 for a malformed handshake.
 */
export const validate = (method: string, headers: Headers.Headers): HttpServerResponse.HttpServerResponse | undefined => {
  if (!hasToken(headers["upgrade"], "websocket")) {
    return reject(426, "This endpoint only speaks WebSocket", { upgrade: "websocket", connection: "Upgrade" })
  }
  if (method !== "GET") {
    return reject(400, "A WebSocket handshake must use GET")
  }
  if (!hasToken(headers["connection"], "upgrade")) {
    return reject(400, "A WebSocket handshake needs 'Connection: Upgrade'")
  }
  if (headers["sec-websocket-version"] !== "13") {
    return reject(426, "Only WebSocket version 13 is supported", { "sec-websocket-version": "13" })
  }
  const key = headers["sec-websocket-key"]
  if (key === undefined || !keyPattern.test(key.trim())) {
    return reject(400, "Missing or invalid Sec-WebSocket-Key")
  }
  return undefined
}
