import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Result from "effect/Result"
import type { Deflate } from "../Acceptor.js"
import type { CompressionOptions, Options } from "../Upgrade.js"
import type { RateSettings } from "./core/rate.js"
import * as Origin from "./origin.js"

export type { Deflate }

export class OptionsError extends Data.TaggedError("OptionsError")<{
  readonly option: string
  readonly value: unknown
  readonly expected: string
}> {
  override get message(): string {
    return `invalid option ${this.option}: ${String(this.value)} (expected ${this.expected})`
  }
}

export interface Outbound {
  readonly highWaterMark: number
  readonly policy: "suspend" | "fail" | "close"
  readonly sendTimeout: Duration.Duration
}

export interface ResolvedOptions {
  readonly heartbeat: { readonly interval: Duration.Duration; readonly timeout: Duration.Duration } | false
  readonly idleTimeout: Duration.Duration | false
  readonly initTimeout: Duration.Duration
  readonly outbound: Outbound
  readonly maxConnections: number
  readonly maxConnectionsPerAddress: number
  readonly retryAfter: Duration.Duration
  readonly maxMessageSize: number
  readonly closeTimeout: Duration.Duration
  readonly inboxCapacity: number
  readonly inboxBytes: number
  readonly rateLimit: RateSettings | undefined
  readonly compression: Deflate | false
  readonly chooseSubprotocol: ((offered: ReadonlyArray<string>) => string | undefined) | undefined
  readonly requireSubprotocol: boolean
  readonly origins: Origin.OriginPolicy
  readonly headers: ((request: HttpServerRequest.HttpServerRequest) => Readonly<Record<string, string>>) | undefined
  readonly traceMessages: boolean
}

export const defaults: ResolvedOptions = {
  heartbeat: { interval: Duration.seconds(30), timeout: Duration.seconds(10) },
  idleTimeout: false,
  initTimeout: Duration.seconds(10),
  outbound: { highWaterMark: 1024 * 1024, policy: "suspend", sendTimeout: Duration.seconds(10) },
  maxConnections: Number.POSITIVE_INFINITY,
  maxConnectionsPerAddress: Number.POSITIVE_INFINITY,
  retryAfter: Duration.seconds(5),
  maxMessageSize: 1024 * 1024,
  closeTimeout: Duration.seconds(5),
  inboxCapacity: 1024,
  inboxBytes: 1024 * 1024,
  rateLimit: undefined,
  compression: false,
  chooseSubprotocol: undefined,
  requireSubprotocol: false,
  origins: Origin.sameOrigin,
  headers: undefined,
  traceMessages: false
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
  Result.fail(new OptionsError({ option, value, expected }))

const integer = <F extends number | undefined>(
  option: string,
  value: number | undefined,
  fallback: F,
  min: number,
  max: number
): Result.Result<number | F, OptionsError> =>
  value === undefined
    ? Result.succeed(fallback)
    : Number.isSafeInteger(value) && value >= min && value <= max
    ? Result.succeed(value)
    : invalid(option, value, `an integer from ${min} to ${max}`)

const boolean = <F extends boolean | undefined>(
  option: string,
  value: boolean | undefined,
  fallback: F
): Result.Result<boolean | F, OptionsError> =>
  value === undefined
    ? Result.succeed(fallback)
    : typeof value === "boolean"
    ? Result.succeed(value)
    : invalid(option, value, "a boolean")

/** The header names and values that are not valid on the wire; empty when all are. */
export const invalidHeaders = (headers: Readonly<Record<string, string>>): Array<string> =>
  Object.entries(headers).flatMap(([name, value]) =>
    token.test(name) && typeof value === "string" && fieldValue.test(value) ? [] : [name]
  )

const resolveCompression = (value: boolean | CompressionOptions | undefined) =>
  Result.gen(function*() {
    if (value === undefined || value === false) return false as const
    const options: CompressionOptions = value === true ? {} : value
    if (typeof options !== "object" || options === null) {
      return yield* invalid("compression", value, "a boolean or compression settings")
    }
    const d = compressionDefaults
    const optional = <A>(value: Result.Result<A | undefined, OptionsError>, key: string) =>
      Result.map(value, (resolved) => (resolved === undefined ? {} : { [key]: resolved }))
    return {
      threshold: yield* integer("compression.threshold", options.threshold, d.threshold, 0, Number.MAX_SAFE_INTEGER),
      concurrencyLimit: yield* integer(
        "compression.concurrencyLimit",
        options.concurrencyLimit,
        d.concurrencyLimit,
        1,
        1024
      ),
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

/** A positive, finite duration; `undefined` gives the fallback. */
const duration = (option: string, value: Duration.Input | undefined, fallback: Duration.Duration) => {
  if (value === undefined) return Result.succeed(fallback)
  const decoded = Duration.fromInput(value)
  return decoded._tag === "Some" && Duration.isFinite(decoded.value) && Duration.toMillis(decoded.value) > 0
    ? Result.succeed(decoded.value)
    : invalid(option, value, "a positive, finite Duration")
}

const limit = (option: string, value: number | undefined) =>
  value === undefined ? Result.succeed(Number.POSITIVE_INFINITY) : integer(option, value, 0, 1, Number.MAX_SAFE_INTEGER)

const resolveHeartbeat = (value: Options["heartbeat"]) =>
  Result.gen(function*() {
    if (value === false) return false as const
    if (value !== undefined && (typeof value !== "object" || value === null)) {
      return yield* invalid("heartbeat", value, "false or { interval, timeout }")
    }
    const fallback = defaults.heartbeat as { interval: Duration.Duration; timeout: Duration.Duration }
    return {
      interval: yield* duration("heartbeat.interval", value?.interval, fallback.interval),
      timeout: yield* duration("heartbeat.timeout", value?.timeout, fallback.timeout)
    }
  })

const resolveOutbound = (value: Options["outbound"]) =>
  Result.gen(function*() {
    if (value !== undefined && (typeof value !== "object" || value === null)) {
      return yield* invalid("outbound", value, "{ highWaterMark, policy, sendTimeout }")
    }
    const policy = value?.policy ?? defaults.outbound.policy
    if (policy !== "suspend" && policy !== "fail" && policy !== "close") {
      return yield* invalid("outbound.policy", policy, "\"suspend\", \"fail\" or \"close\"")
    }
    return {
      highWaterMark: yield* integer(
        "outbound.highWaterMark",
        value?.highWaterMark,
        defaults.outbound.highWaterMark,
        1,
        Number.MAX_SAFE_INTEGER
      ),
      policy,
      sendTimeout: yield* duration("outbound.sendTimeout", value?.sendTimeout, defaults.outbound.sendTimeout)
    } satisfies Outbound
  })

/** A positive, finite number; `undefined` gives the fallback. */
const rate = (option: string, value: number | undefined) =>
  value === undefined
    ? Result.succeed(Number.POSITIVE_INFINITY)
    : typeof value === "number" && Number.isFinite(value) && value > 0
    ? Result.succeed(value)
    : invalid(option, value, "a positive, finite number")

const resolveRateLimit = (value: Options["rateLimit"], maxMessageSize: number) =>
  Result.gen(function*() {
    if (value === undefined || value === false) return undefined
    if (typeof value !== "object" || value === null) {
      return yield* invalid("rateLimit", value, "false or { messagesPerSecond, bytesPerSecond, ... }")
    }
    const messagesPerSecond = yield* rate("rateLimit.messagesPerSecond", value.messagesPerSecond)
    const bytesPerSecond = yield* rate("rateLimit.bytesPerSecond", value.bytesPerSecond)
    if (messagesPerSecond === Number.POSITIVE_INFINITY && bytesPerSecond === Number.POSITIVE_INFINITY) {
      return yield* invalid("rateLimit", value, "messagesPerSecond, bytesPerSecond or both")
    }
    const onExceeded = value.onExceeded ?? "close"
    if (onExceeded !== "close" && onExceeded !== "drop" && onExceeded !== "pause") {
      return yield* invalid("rateLimit.onExceeded", onExceeded, "\"close\", \"drop\" or \"pause\"")
    }
    return {
      messagesPerSecond,
      // one second's worth at once by default
      messageBurst: yield* integer(
        "rateLimit.messageBurst",
        value.messageBurst,
        Math.max(1, Math.ceil(Math.min(messagesPerSecond, Number.MAX_SAFE_INTEGER))),
        1,
        Number.MAX_SAFE_INTEGER
      ),
      bytesPerSecond,
      // a largest message must always fit, or it could never pass
      byteBurst: yield* integer(
        "rateLimit.byteBurst",
        value.byteBurst,
        Math.max(maxMessageSize, Math.ceil(Math.min(bytesPerSecond, Number.MAX_SAFE_INTEGER))),
        maxMessageSize,
        Number.MAX_SAFE_INTEGER
      ),
      onExceeded
    } satisfies RateSettings
  })

const resolveSubprotocols = (value: Options["subprotocols"]) => {
  if (value === undefined) return Result.succeed(undefined)
  if (typeof value === "function") return Result.succeed(value)
  if (
    !Array.isArray(value) || value.length === 0 || !value.every((name) => typeof name === "string" && token.test(name))
  ) {
    return invalid("subprotocols", value, "a non-empty list of protocol names (HTTP tokens), or a function")
  }
  const preference: ReadonlyArray<string> = value
  // the server's order of preference decides, not the client's
  return Result.succeed((offered: ReadonlyArray<string>) => preference.find((name) => offered.includes(name)))
}

const normalizeOrigin = (origin: string) => origin.trim().toLowerCase().replace(/\/+$/, "")

const resolveOrigins = (value: Options["allowedOrigins"]): Result.Result<Origin.OriginPolicy, OptionsError> => {
  if (value === undefined) return Result.succeed(Origin.sameOrigin)
  if (value === "*") return Result.succeed(Origin.any)
  if (typeof value === "function") return Result.succeed({ _tag: "Allowed", allows: value })
  if (
    !Array.isArray(value) ||
    !value.every((origin) => typeof origin === "string" && /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(origin))
  ) {
    return invalid("allowedOrigins", value, "\"*\", a list of origins such as \"https://example.com\", or a function")
  }
  const allowed = new Set(value.map(normalizeOrigin))
  // a request without Origin does not come from a browser page, which is what the list guards against
  return Result.succeed({
    _tag: "Allowed",
    allows: (origin: string | undefined) => origin === undefined || allowed.has(normalizeOrigin(origin))
  })
}

const resolveHeaders = (value: Options["headers"]) => {
  if (value === undefined) return Result.succeed(undefined)
  if (typeof value === "function") return Result.succeed(value)
  if (typeof value !== "object" || value === null || invalidHeaders(value).length > 0) {
    return invalid("headers", value, "header names that are HTTP tokens and values without control characters")
  }
  const headers = value
  return Result.succeed(() => headers)
}

export const resolve = (options: Options | undefined): Result.Result<ResolvedOptions, OptionsError> => {
  if (options === undefined) return Result.succeed(defaults)
  return Result.gen(function*() {
    const maxMessageSize = yield* integer(
      "maxMessageSize",
      options.maxMessageSize,
      defaults.maxMessageSize,
      1,
      Number.MAX_SAFE_INTEGER
    )
    const inboxCapacity = yield* integer("inboxCapacity", options.inboxCapacity, defaults.inboxCapacity, 1, 1 << 24)
    // by default a connection holds one largest message waiting for the handler, as ws hands over one
    const inboxBytes = yield* integer("inboxBytes", options.inboxBytes, maxMessageSize, 1, Number.MAX_SAFE_INTEGER)
    return {
      heartbeat: yield* resolveHeartbeat(options.heartbeat),
      idleTimeout: options.idleTimeout === false || options.idleTimeout === undefined
        ? false as const
        : yield* duration("idleTimeout", options.idleTimeout, Duration.zero),
      initTimeout: yield* duration("initTimeout", options.initTimeout, defaults.initTimeout),
      outbound: yield* resolveOutbound(options.outbound),
      maxConnections: yield* limit("maxConnections", options.maxConnections),
      maxConnectionsPerAddress: yield* limit("maxConnectionsPerAddress", options.maxConnectionsPerAddress),
      retryAfter: yield* duration("retryAfter", options.retryAfter, defaults.retryAfter),
      closeTimeout: yield* duration("closeTimeout", options.closeTimeout, defaults.closeTimeout),
      maxMessageSize,
      inboxCapacity,
      inboxBytes,
      rateLimit: yield* resolveRateLimit(options.rateLimit, maxMessageSize),
      compression: yield* resolveCompression(options.compression),
      chooseSubprotocol: yield* resolveSubprotocols(options.subprotocols),
      requireSubprotocol: yield* boolean("requireSubprotocol", options.requireSubprotocol, false),
      origins: yield* resolveOrigins(options.allowedOrigins),
      headers: yield* resolveHeaders(options.headers),
      traceMessages: yield* boolean("traceMessages", options.traceMessages, false)
    }
  })
}
