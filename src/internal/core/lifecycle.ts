/**
 * A connection's life as one explicit phase and pure transitions, in the manner of python-websockets'
 * `protocol.py`: no Effect, no sockets, no timers. The driver (`../loop.ts`) reports what happened as
 * an event; a transition returns the next phase and what the driver must do, and the driver does it.
 *
 * ```
 * Accepted --start--> Initializing --initDone--> Open
 *                         |  (initTimedOut: the turn is interrupted, the end says 1011)
 *                         +----------------+-------+
 *                                          v end(outcome)
 *                                       Closing --closed--> Closed
 * ```
 *
 * - **Accepted**: the handshake is done and the transport exists; nothing runs yet.
 * - **Initializing**: `onInit` runs, in the connection's first turn. Messages that arrive wait.
 * - **Open**: the handlers run, one turn at a time, while the inbox has messages.
 * - **Closing**: the end runs, once, whatever ended the connection: `onClose` (when `onInit` had
 *   succeeded), the connection's scope closed, the closing handshake awaited up to `closeTimeout`.
 * - **Closed**: the transport is closed and the owner has been told.
 */
import { GoingAway, InternalError } from "./close.js"

/** Who ended the connection, as `CloseInfo.initiator` reports it. */
export type Initiator = "peer" | "server" | "error" | "timeout" | "shutdown"

/** How a connection ended: the code and reason on the wire, and who ended it. */
export interface CloseInfo {
  readonly code: number
  readonly reason: string
  readonly initiator: Initiator
}

export type Phase =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "Initializing"; readonly timedOut: boolean }
  /** `initTimedOut`: the deadline struck as `onInit` completed; the turn is being interrupted for it. */
  | { readonly _tag: "Open"; readonly initTimedOut: boolean }
  | { readonly _tag: "Closing"; readonly info: CloseInfo }
  | { readonly _tag: "Closed"; readonly info: CloseInfo }

/** The end of a server shutting down. */
export const shutdownInfo: CloseInfo = { code: GoingAway, reason: "server shutting down", initiator: "shutdown" }
/** The end of a handler that failed or died. */
export const errorInfo: CloseInfo = { code: InternalError, reason: "internal error", initiator: "error" }
/** The end of an `onInit` that ran past `initTimeout`. */
export const initTimeoutInfo: CloseInfo = { code: InternalError, reason: "onInit timed out", initiator: "timeout" }

export const accepted: Phase = { _tag: "Accepted" }
const initializing: Phase = { _tag: "Initializing", timedOut: false }
const initTimedOutPhase: Phase = { _tag: "Initializing", timedOut: true }
const open: Phase = { _tag: "Open", initTimedOut: false }
const openTimedOut: Phase = { _tag: "Open", initTimedOut: true }

/** The transport is ready: `onInit` runs. Only from `Accepted`. */
export const start = (phase: Phase): Phase => phase._tag === "Accepted" ? initializing : phase

/**
 * `onInit` succeeded: the handlers run from now on, and `onClose` will run. Only from `Initializing`;
 * when the deadline struck in the same instant, the turn is still interrupted for it.
 */
export const initDone = (phase: Phase): Phase =>
  phase._tag === "Initializing" ? (phase.timedOut ? openTimedOut : open) : phase

/**
 * `initTimeout` struck while `onInit` still ran: the driver interrupts the turn, and the end that
 * follows says 1011 `"onInit timed out"`. Only from `Initializing`.
 */
export const initTimedOut = (phase: Phase): Phase => phase._tag === "Initializing" ? initTimedOutPhase : phase

/** Whether a turn (handlers) may start: not once the end has begun. */
export const takesTurns = (phase: Phase): boolean => phase._tag === "Initializing" || phase._tag === "Open"

/** Whether the end has begun (`Closing` or `Closed`). */
export const isEnding = (phase: Phase): boolean => phase._tag === "Closing" || phase._tag === "Closed"

/**
 * How the connection's turn came to an end:
 * - `Decided`: something decided the close, with its `info`: the peer closed (`ConnectionClosed`), a
 *   handler returned `stopConnection` (already closing the transport), the transport or a timer
 *   closed it (a protocol violation, a limit, a liveness timeout: `Closing`);
 * - `Interrupted`: the turn was interrupted (a server shutdown, or `initTimeout`);
 * - `Failed`: a handler or the selector stream failed or died.
 */
export type Outcome =
  | { readonly _tag: "Decided"; readonly info: CloseInfo }
  | { readonly _tag: "Interrupted" }
  | { readonly _tag: "Failed" }

/** What the driver does to end the connection, from `end`. */
export interface Ending {
  readonly phase: Phase
  readonly info: CloseInfo
  /** Start the closing handshake with `info.code` (nobody has yet). */
  readonly sendClose: boolean
  /** Log the handler's failure as an error with its cause. */
  readonly logFailure: boolean
  /** Log the close as news (a timeout, or a violation the transport or a limit saw): info level. */
  readonly logClose: boolean
  /** Run `onClose` with the last state: `onInit` had succeeded. */
  readonly runOnClose: boolean
}

/**
 * The end of the connection, whichever way its turn ended; `undefined` when it is already ending
 * (the end runs once). Close-code rules: an interruption is the shutdown's 1001, or 1011 when
 * `initTimeout` struck; a failure is 1011; a decided close keeps its code, and the transport is
 * already closing with it.
 */
export const end = (phase: Phase, outcome: Outcome): Ending | undefined => {
  if (isEnding(phase)) return undefined
  const info = outcome._tag === "Decided"
    ? outcome.info
    : outcome._tag === "Failed"
    ? errorInfo
    : (phase._tag === "Initializing" && phase.timedOut) || (phase._tag === "Open" && phase.initTimedOut)
    ? initTimeoutInfo
    : shutdownInfo
  return {
    phase: { _tag: "Closing", info },
    info,
    sendClose: outcome._tag !== "Decided",
    logFailure: outcome._tag === "Failed",
    // a handler's failure is logged as an error; what the peer or a timer caused is news, not an error
    logClose: info.initiator === "timeout" || (info.initiator === "error" && outcome._tag === "Decided"),
    runOnClose: phase._tag === "Open"
  }
}

/** The end has run and the transport is closed. Only from `Closing`. */
export const closed = (phase: Phase): Phase => phase._tag === "Closing" ? { _tag: "Closed", info: phase.info } : phase
