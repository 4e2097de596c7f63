/**
 * The next step of a connection's loop, returned by `onMessage`.
 *
 * Port of Dream's `websocket.Action(state, custom)`:
 *
 * - `continueConnection(state)`: keep going with a new state; the current selector stream stays.
 * - `continueConnectionWithSelector(state, stream)`: keep going and *replace* the selector stream. The
 *   old stream's fiber is interrupted and its scope closed before the new one starts.
 * - `stopConnection()`: close the connection normally (1000).
 * - `stopConnectionWith(code, reason)`: close with a chosen code and reason. The code and reason are
 *   validated, so this returns an `Effect` that fails with a `CloseError` for an invalid one.
 *
 * `Action` is a plain value; the loop applies it after the handler's `Effect` succeeds.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Message } from "effect-websocket"
 *
 * const onMessage = (count: number, message: Message.Message<never>) =>
 *   Message.isTextMessage(message) && message.text === "quit"
 *     ? Action.stopConnectionWith(4000, "bye")
 *     : Effect.succeed(Action.continueConnection(count + 1))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/core/close.js"
import * as errors from "./internal/errors.js"

/**
 * Unique identifier of `Action` values.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-websocket/Action")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Keep the connection open with a new state; the current selector stream (if any) keeps running.
 *
 * @since 0.1.0
 * @category models
 */
export interface Continue<out State> {
  readonly [TypeId]: TypeId
  readonly _tag: "Continue"
  readonly state: State
}

/**
 * Keep the connection open with a new state and a new selector stream, which replaces the current one.
 *
 * @since 0.1.0
 * @category models
 */
export interface ContinueWithSelector<out State, out Custom, out E = never, out R = never> {
  readonly [TypeId]: TypeId
  readonly _tag: "ContinueWithSelector"
  readonly state: State
  readonly selector: Stream.Stream<Custom, E, R>
}

/**
 * Close the connection with `code` and `reason` (already validated).
 *
 * @since 0.1.0
 * @category models
 */
export interface Stop {
  readonly [TypeId]: TypeId
  readonly _tag: "Stop"
  readonly code: number
  readonly reason: string
}

/**
 * The next action to take in the WebSocket loop. `E` and `R` are those of the selector stream an
 * action may carry; they flow into the handler's own error and requirement types.
 *
 * Port of Dream's `websocket.Action(state, custom)`.
 *
 * @since 0.1.0
 * @category models
 */
export type Action<State, Custom, E = never, R = never> =
  | Continue<State>
  | ContinueWithSelector<State, Custom, E, R>
  | Stop

/**
 * The close code or reason given to `stopConnectionWith` cannot go on the wire.
 *
 * - `InvalidCode`: the code is not one an endpoint may send (valid: 1000–1003, 1007–1014, 3000–4999).
 * - `ReasonTooLong`: the reason is longer than 123 bytes of UTF-8 (a control frame carries at most 125).
 *
 * @since 0.1.0
 * @category errors
 */
export const CloseError: typeof errors.CloseError = errors.CloseError

/**
 * @since 0.1.0
 * @category errors
 */
export type CloseError = errors.CloseError

const proto = { [TypeId]: TypeId }

/**
 * Continue the WebSocket loop with a new state. A running selector stream keeps running.
 *
 * Port of `websocket.continue_connection`.
 *
 * @example
 * ```ts
 * import { Action } from "effect-websocket"
 *
 * const next = Action.continueConnection({ count: 1 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const continueConnection = <State>(state: State): Action<State, never> => {
  const action = Object.create(proto)
  action._tag = "Continue"
  action.state = state
  return action
}

/**
 * Continue the WebSocket loop with a new state and a selector stream whose values arrive as
 * `CustomMessage`s. The stream replaces the current one: the old stream's fiber is interrupted and its
 * scope closed (so a `PubSub` subscription ends) before the new stream starts. Values the old stream
 * had already delivered are still handled. The stream ends when the connection ends; if it fails, the
 * connection closes with 1011 like a failing handler.
 *
 * Port of `websocket.continue_connection_with_selector`; the Erlang `Selector` becomes a `Stream`.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { Action } from "effect-websocket"
 *
 * const next = Action.continueConnectionWithSelector("ticking", Stream.make("tick"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const continueConnectionWithSelector = <State, Custom, E = never, R = never>(
  state: State,
  selector: Stream.Stream<Custom, E, R>
): Action<State, Custom, E, R> => {
  const action = Object.create(proto)
  action._tag = "ContinueWithSelector"
  action.state = state
  action.selector = selector
  return action
}

const makeStop = (code: number, reason: string): Stop => {
  const action = Object.create(proto)
  action._tag = "Stop"
  action.code = code
  action.reason = reason
  return action
}

const normalStop = makeStop(1000, "")

/**
 * Stop the WebSocket loop normally: the server sends a close frame with code 1000, then `onClose`
 * runs with initiator `"server"`.
 *
 * Port of `websocket.stop_connection`.
 *
 * @example
 * ```ts
 * import { Action } from "effect-websocket"
 *
 * const next = Action.stopConnection()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const stopConnection = (): Action<never, never> => normalStop

/**
 * Stop the WebSocket loop with a chosen close code and reason. The code must be one an endpoint may
 * send (1000–1003, 1007–1014, 3000–4999) and the reason at most 123 bytes of UTF-8; otherwise the
 * returned `Effect` fails with a `CloseError`, which, left unhandled in a handler, closes the
 * connection with 1011 like any other handler failure.
 *
 * Not in Dream, whose `stop_connection` always closes normally.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action } from "effect-websocket"
 *
 * const next: Effect.Effect<Action.Action<never, never>, Action.CloseError> =
 *   Action.stopConnectionWith(4001, "session expired")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const stopConnectionWith = (
  code: number,
  reason: string = ""
): Effect.Effect<Action<never, never>, CloseError> => {
  const invalid = internal.validateClose(code, reason)
  return invalid === undefined
    ? Effect.succeed(makeStop(code, reason))
    : Effect.fail(new CloseError({ reason: invalid, code, closeReason: reason }))
}

/**
 * Is this value an `Action`?
 *
 * @example
 * ```ts
 * import { Action } from "effect-websocket"
 *
 * Action.isAction(Action.stopConnection()) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isAction = (u: unknown): u is Action<unknown, unknown, unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u
