import { Effect, Schedule, Stream } from "effect"
import { Action, Broadcast, Connection, Upgrade } from "effect-websocket"

// A price feed: published once a second with its position in the topic, so that a client sees a gap.
export const feed = (prices: Stream.Stream<number>) =>
  Stream.runForEach(
    Stream.schedule(prices, Schedule.spaced("1 second")),
    (price) => Effect.ignore(Broadcast.publish("prices", ({ seq, stream }) => JSON.stringify({ price, stream, seq })))
  )

// Each connection gets only the prices above its `?above=`: the topic is its selector, filtered
// before anything is sent. Live when `Broadcast.stream` returns, ended with the connection.
export const ticker = Upgrade.upgradeWebSocket({
  onInit: (connection) =>
    Effect.map(Effect.orDie(Broadcast.stream(connection, "prices")), (prices) => {
      const above = Number(new URL(connection.url, "http://x").searchParams.get("above") ?? 0)
      return Upgrade.initialWithSelector(
        null,
        prices.pipe(
          Stream.map((data) => JSON.parse(typeof data === "string" ? data : "null")),
          Stream.filter((tick): tick is { price: number; stream: string; seq: number } => tick?.price > above)
        )
      )
    }),
  onMessage: (state, message, connection) =>
    message._tag === "CustomMessage"
      ? Effect.as(
        Effect.ignore(Connection.sendText(connection, JSON.stringify(message.value))),
        Action.continueConnection(state)
      )
      : Effect.succeed(Action.continueConnection(state)),
  onClose: () => Effect.void
})
