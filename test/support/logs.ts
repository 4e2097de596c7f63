/** What the code under test logged: a logger that keeps every line in an array instead of printing it. */
import { HashMap, type Layer, Logger, LogLevel } from "effect"

/** One logged line. */
export interface LogLine {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  /** The cause logged with the line, rendered; empty when there was none. */
  readonly cause: string
}

const lineOf = ({ annotations, cause, logLevel, message }: Logger.Logger.Options<unknown>): LogLine => ({
  level: logLevel,
  message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
  annotations: Object.fromEntries(HashMap.toEntries(annotations)),
  cause: cause._tag === "Empty" ? "" : String(cause)
})

/** The line as one string: the level's label, the message, and the cause if one was logged. */
export const textOf = (line: LogLine): string =>
  `${line.level.label} ${line.message}${line.cause === "" ? "" : ` ${line.cause}`}`

/** Replaces the default logger: every line goes to `lines`. */
export const recordLogs = (lines: Array<LogLine>): Layer.Layer<never> =>
  Logger.replace(Logger.defaultLogger, Logger.make((options) => void lines.push(lineOf(options))))

/** Replaces the default logger: every line goes to `lines` as its `textOf`. */
export const captureLogs = (lines: Array<string>): Layer.Layer<never> =>
  Logger.replace(Logger.defaultLogger, Logger.make((options) => void lines.push(textOf(lineOf(options)))))

/** Whether the line is a warning or worse. */
export const isWarning = (line: LogLine): boolean => LogLevel.greaterThanEqual(line.level, LogLevel.Warning)

/** The lines that are warnings or worse, as `textOf`: a clean run has none. */
export const warnings = (lines: ReadonlyArray<LogLine>): ReadonlyArray<string> => lines.filter(isWarning).map(textOf)
