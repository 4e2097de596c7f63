import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import { OptionsError, type Options } from "../Upgrade.js"

export interface ResolvedOptions {
  readonly maxMessageSize: number
  readonly closeTimeout: Duration.Duration
  readonly inboxCapacity: number
}

export const defaults: ResolvedOptions = {
  maxMessageSize: 1024 * 1024,
  closeTimeout: Duration.seconds(5),
  inboxCapacity: 1024
}

const positiveInteger = (option: string, value: number | undefined, fallback: number, max: number) =>
  value === undefined
    ? Either.right(fallback)
    : Number.isSafeInteger(value) && value > 0 && value <= max
    ? Either.right(value)
    : Either.left(new OptionsError({ option, value, expected: `an integer from 1 to ${max}` }))

export const resolve = (options: Options | undefined): Either.Either<ResolvedOptions, OptionsError> => {
  if (options === undefined) return Either.right(defaults)
  return Either.gen(function*() {
    const maxMessageSize = yield* positiveInteger(
      "maxMessageSize",
      options.maxMessageSize,
      defaults.maxMessageSize,
      Number.MAX_SAFE_INTEGER
    )
    const inboxCapacity = yield* positiveInteger("inboxCapacity", options.inboxCapacity, defaults.inboxCapacity, 1 << 24)
    let closeTimeout = defaults.closeTimeout
    if (options.closeTimeout !== undefined) {
      const decoded = Duration.decodeUnknown(options.closeTimeout)
      if (decoded._tag === "None" || !Duration.isFinite(decoded.value) || Duration.toMillis(decoded.value) < 0) {
        return yield* Either.left(
          new OptionsError({ option: "closeTimeout", value: options.closeTimeout, expected: "a finite Duration" })
        )
      }
      closeTimeout = decoded.value
    }
    return { maxMessageSize, closeTimeout, inboxCapacity }
  })
}
