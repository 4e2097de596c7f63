import { Context, Effect, Layer, Ref, Stream } from "effect"
import { Action, Connection, type Message, Upgrade } from "effect-websocket"

// Where the room keeps its history. The app uses `ChatStore.layer`; tests swap in their own.
export class ChatStore extends Context.Service<ChatStore, {
  readonly append: (line: string) => Effect.Effect<void>
  readonly recent: Effect.Effect<ReadonlyArray<string>>
}>()("room/ChatStore") {
  static readonly layer = Layer.effect(
    ChatStore,
    Effect.map(Ref.make<ReadonlyArray<string>>([]), (lines) => ({
      append: (line: string) => Ref.update(lines, (all) => [...all, line].slice(-50)),
      recent: Ref.get(lines)
    }))
  )
}

// A room: new members get the history; every message is stored and acknowledged; once a minute the
// selector stream (`Stream.tick`) makes the loop send a digest of what this member said.
export const room = Upgrade.upgradeWebSocket({
  onInit: (connection) =>
    Effect.gen(function*() {
      const store = yield* ChatStore
      for (const line of yield* store.recent) yield* Connection.sendText(connection, `history: ${line}`)
      return Upgrade.initialWithSelector(0, Stream.tick("1 minute").pipe(Stream.drop(1)))
    }),
  onMessage: (said: number, message: Message.Message<void>, connection) =>
    Effect.gen(function*() {
      switch (message._tag) {
        case "TextMessage": {
          yield* ChatStore.use((store) => store.append(message.text))
          yield* Connection.sendText(connection, `stored #${said + 1}`)
          return Action.continueConnection(said + 1)
        }
        case "CustomMessage":
          yield* Connection.sendText(connection, `digest: ${said} messages so far`)
          return Action.continueConnection(said)
        default:
          return Action.continueConnection(said)
      }
    }),
  onClose: () => Effect.void
})
