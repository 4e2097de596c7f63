import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import { type CompressionOptions, type Options, OptionsError } from "../Upgrade.js"

/**
 * permessage-deflate settings in the shape `ws` takes them. Window bits and context takeover are
 * only present when set: for `ws`, a set value is a requirement the client's offer must meet.
 */
export interface Deflate {
  readonly threshold: number
  readonly concurrencyLimit: number
  readonly zlibDeflateOptions: { readonly level: number; readonly memLevel: number }
  readonly serverMaxWindowBits?: number
  readonly clientMaxWindowBits?: number
  readonly serverNoContextTakeover?: boolean
  readonly clientNoContextTakeover?: boolean
}

export interface ResolvedOptions {
  readonly maxMessageSize: number
  readonly closeTimeout: Duration.Duration
  readonly inboxCapacity: number
  readonly compression: Deflate | false
  readonly chooseSubprotocol: ((offered: ReadonlyArray<string>) => string | undefined) | undefined
  readonly requireSubprotocol: boolean
  readonly allowOrigin: ((origin: string | undefined) => boolean) | undefined
  readonly headers: ((request: HttpServerRequest.HttpServerRequest) => Readonly<Record<string, string>>) | undefined
}

export const defaults: ResolvedOptions = {
  maxMessageSize: 1024 * 1024,
  closeTimeout: Duration.seconds(5),
  inboxCapacity: 1024,
  compression: false,
  chooseSubprotocol: undefined,
  requireSubprotocol: false,
  allowOrigin: undefined,
  headers: undefined
}

export const compressionDefaults = {
  threshold: 1024,
  level: 6,
  memLevel: 8,
  concurrencyLimit: 10
} as const

/** RFC 7230 `token`, the syntax of header names and subprotocol names. */
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** A header value: no control characters but tab. */
const fieldValue = /^[\t\x20-\x7e\x80-\xff]*$/

const invalid = (option: string, value: unknown, expected: string) =>
  Either.left(new OptionsError({ option, value, expected }))

const integer = <F extends number | undefined>(option: string, value: number | undefined, fallback: F, min: number, max: number): Either.Either<number | F, OptionsError> =>
  value === undefined
    ? Either.right(fallback)
    : Number.isSafeInteger(value) && value >= min && value <= max
    ? Either.right(value)
    : invalid(option, value, `an integer from ${min} to ${max}`)

const boolean = <F extends boolean | undefined>(option: string, value: boolean | undefined, fallback: F): Either.Either<boolean | F, OptionsError> =>
  value === undefined ? Either.right(fallback) : typeof value === "boolean" ? Either.right(value) : invalid(option, value, "a boolean")

/** The header names and values that are not valid on the wire; empty when all are. */
export const invalidHeaders = (headers: Readonly<Record<string, string>>): Array<string> =>
  Object.entries(headers).flatMap(([name, value]) =>
    token.test(name) && typeof value === "string" && fieldValue.test(value) ? [] : [name]
  )

const resolveCompression = (value: boolean | CompressionOptions | undefined) =>
  Either.gen(function*() {
    if (value === undefined || value === false) return false as const
    const options: CompressionOptions = value === true ? {} : value
    if (typeof options !== "object" || options === null) {
      return yield* invalid("compression", value, "a boolean or compression settings")
    }
    const d = compressionDefaults
    const optional = <A>(value: Either.Either<A | undefined, OptionsError>, key: string) =>
      Either.map(value, (resolved) => (resolved === undefined ? {} : { [key]: resolved }))
    return {
      threshold: yield* integer("compression.threshold", options.threshold, d.threshold, 0, Number.MAX_SAFE_INTEGER),
      concurrencyLimit: yield* integer("compression.concurrencyLimit", options.concurrencyLimit, d.concurrencyLimit, 1, 1024),
      zlibDeflateOptions: {
        level: yield* integer("compression.level", options.level, d.level, 0, 9),
        memLevel: yield* integer("compression.memLevel", options.memLevel, d.memLevel, 1, 9)
      },
      ...yield* optional(
        integer("compression.serverMaxWindowBits", options.serverMaxWindowBits, undefined, 8, 15),
        "serverMaxWindowBits"
      ),
      ...yield* optional(
        integer("compression.clientMaxWindowBits", options.clientMaxWindowBits, undefined, 8, 15),
        "clientMaxWindowBits"
      ),
      ...yield* optional(
        boolean("compression.serverNoContextTakeover", options.serverNoContextTakeover, undefined),
        "serverNoContextTakeover"
      ),
      ...yield* optional(
        boolean("compression.clientNoContextTakeover", options.clientNoContextTakeover, undefined),
        "clientNoContextTakeover"
      )
    } satisfies Deflate
  })

const resolveSubprotocols = (value: Options["subprotocols"]) => {
  if (value === undefined) return Either.right(undefined)
  if (typeof value === "function") return Either.right(value)
  if (!Array.isArray(value) || value.length === 0 || !value.every((name) => typeof name === "string" && token.test(name))) {
    return invalid("subprotocols", value, "a non-empty list of protocol names (HTTP tokens), or a function")
  }
  const preference: ReadonlyArray<string> = value
  // the server's order of preference decides, not the client's
  return Either.right((offered: ReadonlyArray<string>) => preference.find((name) => offered.includes(name)))
}

const normalizeOrigin = (origin: string) => origin.trim().toLowerCase().replace(/\/+$/, "")

const resolveOrigins = (value: Options["allowedOrigins"]) => {
  if (value === undefined) return Either.right(undefined)
  if (typeof value === "function") return Either.right(value)
  if (!Array.isArray(value) || !value.every((origin) => typeof origin === "string" && /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(origin))) {
    return invalid("allowedOrigins", value, "a list of origins such as \"https://example.com\", or a function")
  }
  const allowed = new Set(value.map(normalizeOrigin))
  // a request without Origin does not come from a browser page, which is what the list guards against
  return Either.right((origin: string | undefined) => origin === undefined || allowed.has(normalizeOrigin(origin)))
}

const resolveHeaders = (value: Options["headers"]) => {
  if (value === undefined) return Either.right(undefined)
  if (typeof value === "function") return Either.right(value)
  if (typeof value !== "object" || value === null || invalidHeaders(value).length > 0) {
    return invalid("headers", value, "header names that are HTTP tokens and values without control characters")
  }
  const headers = value
  return Either.right(() => headers)
}

export const resolve = (options: Options | undefined): Either.Either<ResolvedOptions, OptionsError> => {
  if (options === undefined) return Either.right(defaults)
  return Either.gen(function*() {
    const maxMessageSize = yield* integer(
      "maxMessageSize",
      options.maxMessageSize,
      defaults.maxMessageSize,
      1,
      Number.MAX_SAFE_INTEGER
    )
    const inboxCapacity = yield* integer("inboxCapacity", options.inboxCapacity, defaults.inboxCapacity, 1, 1 << 24)
    let closeTimeout = defaults.closeTimeout
    if (options.closeTimeout !== undefined) {
      const decoded = Duration.decodeUnknown(options.closeTimeout)
      if (decoded._tag === "None" || !Duration.isFinite(decoded.value)) {
        return yield* invalid("closeTimeout", options.closeTimeout, "a finite Duration")
      }
      closeTimeout = decoded.value
    }
    return {
      maxMessageSize,
      closeTimeout,
      inboxCapacity,
      compression: yield* resolveCompression(options.compression),
      chooseSubprotocol: yield* resolveSubprotocols(options.subprotocols),
      requireSubprotocol: yield* boolean("requireSubprotocol", options.requireSubprotocol, false),
      allowOrigin: yield* resolveOrigins(options.allowedOrigins),
      headers: yield* resolveHeaders(options.headers)
    }
  })
}
