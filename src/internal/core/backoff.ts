/**
 * When a client reconnects: which closes are worth another try, and how long to wait before it.
 * Shared by the `Client` of both Effect lines; no Effect, no timers.
 */

/** The reconnection policy, validated (see `validate`). */
export interface Backoff {
  /** The first wait, in milliseconds. */
  readonly initial: number
  /** The longest wait. */
  readonly max: number
  /** Each wait is this many times the one before, up to `max`. */
  readonly factor: number
  /**
   * How much of each wait is drawn at random, from 0 (every client waits exactly as long) to 1 (a
   * wait is anywhere from nothing to the whole): with 0.5, a wait is between half and all of it, so
   * the clients a restarted server dropped do not all come back at the same moment.
   */
  readonly jitter: number
  /** Close codes after which the client reconnects; after any other it stays closed. */
  readonly retryOn: ReadonlySet<number>
  /** Attempts after which the client gives up (`Infinity`: never). The count restarts once a connection opens. */
  readonly maxAttempts: number
}

/**
 * Closes after which trying again can help: the server went away (1001, a restart or a shutdown), the
 * connection was lost or never made (1006), the server failed (1011), restarts (1012) or is busy
 * (1013), or the client's heartbeat found it dead (4000) or its consumer fell behind (4001: a new
 * connection starts with what the consumer has read by then). After the others (1000 normal, 1008
 * policy, 1009 too big, 1007 invalid message, 1002 protocol error, the client's 4002 invalid message)
 * the same thing would happen again.
 */
export const defaultRetryOn: ReadonlyArray<number> = [1001, 1006, 1011, 1012, 1013, 4000, 4001]

export const defaults: Backoff = {
  initial: 500,
  max: 5000,
  factor: 2,
  jitter: 0.5,
  retryOn: new Set(defaultRetryOn),
  maxAttempts: Infinity
}

/** The wait before attempt `attempt` (1 for the first reconnection), `random` drawn from [0, 1). */
export const delay = (policy: Backoff, attempt: number, random: number): number => {
  const ceiling = Math.min(policy.max, policy.initial * policy.factor ** Math.max(0, attempt - 1))
  return Math.round(ceiling * (1 - policy.jitter * random))
}

/** Whether to try again after a close with `code`, `attempts` reconnections already made in a row. */
export const retries = (policy: Backoff, code: number, attempts: number): boolean =>
  policy.retryOn.has(code) && attempts < policy.maxAttempts

/** What is wrong with a policy's numbers, or `undefined`. */
export const invalid = (policy: Backoff): string | undefined => {
  if (!(Number.isFinite(policy.initial) && policy.initial >= 0)) return `initial: ${policy.initial} is not a duration`
  if (!(Number.isFinite(policy.max) && policy.max >= policy.initial)) return `max: ${policy.max} is less than initial`
  if (!(Number.isFinite(policy.factor) && policy.factor >= 1)) return `factor: ${policy.factor} is not a number >= 1`
  if (!(policy.jitter >= 0 && policy.jitter <= 1)) return `jitter: ${policy.jitter} is not between 0 and 1`
  if (!(policy.maxAttempts >= 0) || (Number.isFinite(policy.maxAttempts) && !Number.isInteger(policy.maxAttempts))) {
    return `maxAttempts: ${policy.maxAttempts} is not a count`
  }
  for (const code of policy.retryOn) {
    if (!Number.isInteger(code) || code < 1000 || code > 4999) return `retryOn: ${code} is not a close code`
  }
  return undefined
}
