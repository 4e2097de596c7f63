/** The echo handlers tests need: text back as text, and options for binary, a stop word and close reports. */
import { Effect, Queue } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"

export interface EchoOptions {
  /** Where `onClose` reports each connection's `CloseInfo`; nowhere when absent. */
  readonly closes?: Queue.Queue<Connection.CloseInfo>
  /**
   * What a binary message gets back: nothing when absent, the same bytes as binary with `"echo"`, the
   * text `` `${n} bytes` `` (its length) with `"length"`. Binary messages do not count in the state.
   */
  readonly binary?: "echo" | "length"
  /** A text that, once echoed, stops the connection normally (1000, `Action.stopConnection()`). */
  readonly stopOn?: string
}

/** Echo handlers: each text comes back as text; the state is the number of text messages handled, from 0. */
export const echo = (options: EchoOptions = {}) =>
  ({
    onInit: () => Effect.succeed(Upgrade.initial(0)),
    onMessage: (count: number, message: Message.Message<never>, connection: Connection.Connection) =>
      Effect.gen(function*() {
        if (message._tag === "TextMessage") {
          yield* Connection.sendText(connection, message.text)
          return message.text === options.stopOn ? Action.stopConnection() : Action.continueConnection(count + 1)
        }
        if (message._tag === "BinaryMessage") {
          if (options.binary === "echo") yield* Connection.sendBinary(connection, message.data)
          if (options.binary === "length") yield* Connection.sendText(connection, `${message.data.length} bytes`)
        }
        return Action.continueConnection(count)
      }),
    onClose: (_count: number, info: Connection.CloseInfo) =>
      options.closes === undefined ? Effect.void : Queue.offer(options.closes, info)
  }) satisfies Upgrade.Handlers<number, never, Connection.SendError>
