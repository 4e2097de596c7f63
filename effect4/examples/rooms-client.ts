// The client's side: the same protocol, a typed request and reply, a message each way. It reconnects
// by itself after a lost connection, and `onConnect` joins again each time. It uses the global
// WebSocket (Node 22, browsers, Deno, Bun): no `webSocket` option, no `ws`.
import { Effect, Stream } from "effect"
import { Client } from "effect-websocket"
import { Rooms } from "./rooms-protocol.js"

export const visit = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Client.make(Rooms, url, {
      onConnect: (client) => Effect.ignore(client.request("join", { room: "lobby" }), { log: true })
    })
    yield* client.awaitOpen
    // a failure declared by the protocol is the request's typed error
    const refused = yield* Effect.flip(client.request("join", { room: "staff" }))
    yield* client.send({ type: "say", text: "hello" })
    const said = yield* Stream.runHead(client.messages)
    return { refused, said }
  }))
