/**
 * The Node transport: the library's own `ws` server in `noServer` mode, upgrading the Node request
 * behind `HttpServerRequest`. The only file (with its acceptor) that touches `ws` and `node:*`.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Http from "node:http"
import * as WS from "ws"
import { SendError } from "../Connection.js"
import * as Message from "../Message.js"
import * as Close from "./close.js"
import type { ResolvedOptions } from "./options.js"
import type { Sink, Transport } from "./transport.js"

const binary = { binary: true } as const
const emptyHead = Buffer.alloc(0)

/** The close code for each error `ws`'s receiver reports (see ws/lib/receiver.js). */
const closeCodeOf = (error: Error & { readonly code?: string }): number => {
  switch (error.code) {
    case "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH":
    case "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH":
      return Close.MessageTooBig
    case "WS_ERR_INVALID_UTF8":
      return Close.InvalidPayload
    case "WS_ERR_TOO_MANY_BUFFERED_PARTS":
      return Close.PolicyViolation
    default:
      return Close.ProtocolError
  }
}

export class NodeTransport implements Transport {
  private readonly closed = Deferred.unsafeMake<void>(FiberId.none)
  readonly awaitClosed = Deferred.await(this.closed)

  constructor(readonly ws: WS.WebSocket, sink: Sink) {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      sink.push(isBinary ? Message.BinaryMessage(data) : Message.TextMessage(data.toString("utf8")))
    })
    ws.on("error", (error: Error) => {
      sink.push({ _tag: "ProtocolError", code: closeCodeOf(error), reason: error.message })
    })
    ws.on("close", (code: number, reason: Buffer) => {
      sink.push(Message.ConnectionClosed(code, reason.toString("utf8")))
      Deferred.unsafeDone(this.closed, Exit.void)
    })
  }

  sendText(text: string): SendError | undefined {
    if (this.ws.readyState !== WS.WebSocket.OPEN) return new SendError({ reason: "SocketClosed" })
    try {
      this.ws.send(text)
      return undefined
    } catch (cause) {
      return new SendError({ reason: "Unknown", cause })
    }
  }

  sendBinary(data: Uint8Array): SendError | undefined {
    if (this.ws.readyState !== WS.WebSocket.OPEN) return new SendError({ reason: "SocketClosed" })
    try {
      this.ws.send(data, binary)
      return undefined
    } catch (cause) {
      return new SendError({ reason: "Unknown", cause })
    }
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState !== WS.WebSocket.OPEN) return
    try {
      this.ws.close(code, reason)
    } catch {
      // codes and reasons are validated before they get here; should ws still refuse, drop the connection
      this.ws.terminate()
    }
  }

  terminate(): void {
    this.ws.terminate()
  }

  isOpen(): boolean {
    return this.ws.readyState === WS.WebSocket.OPEN
  }

  ended(): void {}
}

/**
 * Upgrades the Node request behind `request` and connects it to `sink`. Returns `undefined` when the
 * request is not served by Node (another acceptor must handle it) and `"gone"` when the socket closed
 * before the handshake could complete.
 */
export const accept = (
  request: HttpServerRequest.HttpServerRequest,
  options: ResolvedOptions,
  sink: Sink
): Transport | "gone" | undefined => {
  const incoming = NodeHttpServerRequest.toIncomingMessage(request)
  if (!(incoming instanceof Http.IncomingMessage)) return undefined
  const socket = incoming.socket
  if (socket.destroyed || !socket.writable) {
    socket.destroy()
    return "gone"
  }
  let transport: Transport | "gone" = "gone"
  // handleUpgrade calls back synchronously when the handshake is valid (no verifyClient is set); the
  // request was already validated, so anything else means ws refused it and destroyed the socket.
  wss(options).handleUpgrade(incoming, socket, emptyHead, (ws) => {
    transport = new NodeTransport(ws, sink)
  })
  return transport
}

const servers = new WeakMap<ResolvedOptions, WS.WebSocketServer>()

const wss = (options: ResolvedOptions): WS.WebSocketServer => {
  let server = servers.get(options)
  if (server === undefined) {
    server = new WS.WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxMessageSize,
      perMessageDeflate: false,
      skipUTF8Validation: false
    })
    servers.set(options, server)
  }
  return server
}
