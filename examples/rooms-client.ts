// The client's side: the same protocol, a typed request and reply, a message each way. It reconnects
// by itself after a lost connection, and `onConnect` joins again each time.
import { Effect, Stream } from "effect"
import { Client } from "effect-websocket"
import { WebSocket } from "ws" // Node 20 only: browsers, Deno, Bun and Node 22 have a global one
import { Rooms } from "./rooms-protocol.js"

export const visit = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Client.make(Rooms, url, {
      webSocket: WebSocket,
      onConnect: (client) => Effect.ignoreLogged(client.request("join", { room: "lobby" }))
    })
    yield* client.awaitOpen
    // a failure declared by the protocol is the request's typed error
    const refused = yield* Effect.flip(client.request("join", { room: "staff" }))
    yield* client.send({ type: "say", text: "hello" })
    const said = yield* Stream.runHead(client.messages)
    return { refused, said }
  }))
