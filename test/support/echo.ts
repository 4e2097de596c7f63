/** The echo handlers most tests need: text back as text; `onClose` reports to `closes` when given. */
import { Effect, Queue } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"

export const echo = (closes?: Queue.Queue<Connection.CloseInfo>) =>
  ({
    onInit: () => Effect.succeed(Upgrade.initial(null)),
    onMessage: (state: null, message: Message.Message<never>, connection: Connection.Connection) =>
      message._tag === "TextMessage"
        ? Effect.as(Connection.sendText(connection, message.text), Action.continueConnection(state))
        : Effect.succeed(Action.continueConnection(state)),
    onClose: (_state: null, info: Connection.CloseInfo) =>
      closes === undefined ? Effect.void : Queue.offer(closes, info)
  }) satisfies Upgrade.Handlers<null, never, Connection.SendError>
