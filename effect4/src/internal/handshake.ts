/** The server's side of the opening handshake (RFC 6455, 4.2), decided before any transport sees it. */
import type * as Headers from "effect/http/Headers"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Result from "effect/Result"
import { invalidHeaders, type ResolvedOptions } from "./options.js"
import * as Origin from "./origin.js"

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
export const validate = (
  method: string,
  headers: Headers.Headers
): HttpServerResponse.HttpServerResponse | undefined => {
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

/** What the server decided: the subprotocol (if any) and extra headers for the 101. */
export interface Decision {
  readonly protocol: string | undefined
  readonly headers: Readonly<Record<string, string>>
}

const noHeaders: Readonly<Record<string, string>> = {}
const noProtocol: Decision = { protocol: undefined, headers: noHeaders }
const protocolToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** The offered subprotocols, or `undefined` when the header is malformed (empty items, bad tokens, repeats). */
const offeredProtocols = (header: string | undefined): ReadonlyArray<string> | undefined => {
  if (header === undefined) return []
  const offered = header.split(",").map((item) => item.trim())
  return offered.every((item) => protocolToken.test(item)) && new Set(offered).size === offered.length
    ? offered
    : undefined
}

/**
 * Why a handshake was refused: a malformed or unacceptable request (`response` says it), a page from
 * an origin the route does not allow (403), or an option's function that threw or returned invalid
 * headers (500).
 */
export type Refusal =
  | { readonly _tag: "Invalid"; readonly response: HttpServerResponse.HttpServerResponse }
  | { readonly _tag: "CrossOrigin"; readonly origin: string | undefined; readonly host: string | undefined }
  | { readonly _tag: "OptionFailed"; readonly cause: unknown }

const invalidRequest = (response: HttpServerResponse.HttpServerResponse): Result.Result<Decision, Refusal> =>
  Result.fail({ _tag: "Invalid", response })

/**
 * Validates the request and applies the options: origin, subprotocol (400 when required and none
 * fits), extra headers.
 */
export const decide = (
  request: HttpServerRequest.HttpServerRequest,
  options: ResolvedOptions
): Result.Result<Decision, Refusal> => {
  const headers = request.headers
  const rejection = validate(request.method, headers)
  if (rejection !== undefined) return invalidRequest(rejection)
  try {
    const origin = headers["origin"]
    if (!Origin.allows(options.origins, origin, headers["host"])) {
      return Result.fail({ _tag: "CrossOrigin", origin, host: headers["host"] })
    }
    const offered = offeredProtocols(headers["sec-websocket-protocol"])
    if (offered === undefined) return invalidRequest(reject(400, "Invalid Sec-WebSocket-Protocol header"))
    let protocol: string | undefined = undefined
    if (options.chooseSubprotocol !== undefined && offered.length > 0) {
      const chosen = options.chooseSubprotocol(offered)
      protocol = chosen !== undefined && offered.includes(chosen) ? chosen : undefined
    }
    if (protocol === undefined && options.requireSubprotocol) {
      return invalidRequest(reject(400, "No acceptable subprotocol"))
    }
    if (options.headers === undefined) {
      return Result.succeed(protocol === undefined ? noProtocol : { protocol, headers: noHeaders })
    }
    const extra = options.headers(request)
    const invalid = invalidHeaders(extra)
    if (invalid.length > 0) {
      return Result.fail({
        _tag: "OptionFailed",
        cause: `invalid 101 response headers from the headers option: ${invalid.join(", ")}`
      })
    }
    return Result.succeed({ protocol, headers: extra })
  } catch (cause) {
    // a function given as an option threw
    return Result.fail({ _tag: "OptionFailed", cause })
  }
}
