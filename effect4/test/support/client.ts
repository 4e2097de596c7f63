/** A real `ws` client for end-to-end tests: messages are buffered from the start, waits are bounded. */
import { Deferred, Effect, Exit, Queue, type Scope } from "effect"
import type { Closed } from "effect-websocket/Testing"
import WebSocket from "ws"
import { within } from "./server.js"

export interface WsClient {
  readonly ws: WebSocket
  /** The next text message from the server. */
  readonly next: Effect.Effect<string>
  /** The close the client saw. */
  readonly closed: Effect.Effect<Closed>
}

/** Connects to `url`; succeeds with the client once open, or with the status of a refused handshake. */
export const connectWs = (
  url: string,
  options?: WebSocket.ClientOptions,
  protocols?: Array<string>
): Effect.Effect<WsClient | { readonly status: number }, never, Scope.Scope> =>
  Effect.acquireRelease(
    within(
      `handshake with ${url}`,
      Effect.callback<WsClient | { readonly status: number }>((resume) => {
        const ws = protocols === undefined ? new WebSocket(url, options) : new WebSocket(url, protocols, options)
        const messages = Effect.runSync(Queue.unbounded<string>())
        const closed = Deferred.makeUnsafe<Closed>()
        ws.on("error", () => {})
        ws.on("message", (data: Buffer) => Queue.offerUnsafe(messages, data.toString("utf8")))
        ws.on("close", (code: number, reason: Buffer) => {
          Deferred.doneUnsafe(closed, Exit.succeed({ code, reason: reason.toString("utf8") }))
          // closed before it opened (connection refused, reset): the acquisition cannot be interrupted
          resume(Effect.die(new Error(`the connection to ${url} closed with ${code} before it opened`)))
        })
        ws.once("open", () =>
          resume(Effect.succeed({
            ws,
            next: within("message", Queue.take(messages)),
            closed: within("close", Deferred.await(closed))
          })))
        ws.once("unexpected-response", (_request, response) => {
          resume(Effect.succeed({ status: response.statusCode ?? 0 }))
          ws.terminate()
        })
      })
    ),
    (result) => Effect.sync(() => "ws" in result && result.ws.terminate())
  )

/** Connects to `url` and fails the test if the handshake is refused. */
export const openWs = (url: string, options?: WebSocket.ClientOptions, protocols?: Array<string>) =>
  Effect.flatMap(
    connectWs(url, options, protocols),
    (result) =>
      "ws" in result ? Effect.succeed(result) : Effect.die(new Error(`handshake refused with ${result.status}`))
  )
