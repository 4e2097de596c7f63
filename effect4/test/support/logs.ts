/** What the code under test logged: a logger that keeps every line in an array instead of printing it. */
import { Cause, type Layer, Logger, LogLevel, References } from "effect"

/** One logged line. */
export interface LogLine {
  /** Effect 4's level: `"Error"`, `"Warn"`, `"Info"`, `"Debug"`... */
  readonly level: LogLevel.LogLevel
  /** The level as Effect 3 wrote it, and as `textOf` starts: `ERROR`, `WARN`, `INFO`, `DEBUG`... */
  readonly label: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  /** The cause logged with the line, rendered; empty when there was none. */
  readonly cause: string
}

/** Effect 3's label of a level (`Logger`s printed it): the level upper-cased, `OFF` for `None`. */
const labelOf = (level: LogLevel.LogLevel): string => level === "None" ? "OFF" : level.toUpperCase()

const lineOf = ({ cause, fiber, logLevel, message }: Logger.Options<unknown>): LogLine => ({
  level: logLevel,
  label: labelOf(logLevel),
  message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
  annotations: { ...fiber.getRef(References.CurrentLogAnnotations) },
  cause: cause.reasons.length === 0 ? "" : Cause.pretty(cause)
})

/** The line as one string: the level's label, the message, and the cause if one was logged. */
export const textOf = (line: LogLine): string =>
  `${line.label} ${line.message}${line.cause === "" ? "" : ` ${line.cause}`}`

/**
 * Replaces the default logger (Effect's tracer logger, which adds lines to spans as events, stays):
 * every line goes to `lines`.
 */
export const recordLogs = (lines: Array<LogLine>): Layer.Layer<never> =>
  Logger.layer([Logger.make((options) => void lines.push(lineOf(options))), Logger.tracerLogger])

/** Replaces the default logger: every line goes to `lines` as its `textOf`. */
export const captureLogs = (lines: Array<string>): Layer.Layer<never> =>
  Logger.layer([Logger.make((options) => void lines.push(textOf(lineOf(options)))), Logger.tracerLogger])

/** Whether the line is a warning or worse. */
export const isWarning = (line: LogLine): boolean => LogLevel.isGreaterThanOrEqualTo(line.level, "Warn")

/** The lines that are warnings or worse, as `textOf`: a clean run has none. */
export const warnings = (lines: ReadonlyArray<LogLine>): ReadonlyArray<string> => lines.filter(isWarning).map(textOf)
