/**
 * The Node transport: the library's own `ws` server in `noServer` mode, upgrading the Node request
 * behind `HttpServerRequest`. The only file (with its acceptor) that touches `ws` and `node:*`.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as Http from "node:http"
import { createRequire } from "node:module"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"
import * as WS from "ws"
import type { Handshake, Wire } from "../../Acceptor.js"
import * as Message from "../../Message.js"
import * as Close from "../core/close.js"
import { SendError } from "../errors.js"
import type { Shared, Sink, Transport } from "../transport.js"
import * as CompatPlatform from "./compat/platform-node.js"
import * as CompatWs from "./compat/ws.js"

// node:http as CommonJS, as the platform loads it: its ESM namespace evaluates the lazy WebSocket
// exports, which load undici
const { IncomingMessage } = createRequire(import.meta.url)("node:http") as typeof Http

const binary = { binary: true } as const
const uncompressedText = { compress: false } as const
const uncompressedBinary = { binary: true, compress: false } as const
/**
 * Pongs queued but not yet written that a connection may owe, as `ws`'s own limit (60). Past it, the
 * transport owes only one more pong, for the most recent ping (RFC 6455, 5.5.3 allows answering only
 * the most recent), sent once a queued pong is written: a peer that reads gets every pong it can
 * take, and one that pings without reading holds the server to this many small frames.
 */
const maxPendingPongs = 60
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

const uncork = (transport: NodeTransport): void => transport.uncork()

/** Marks the frames this transport made in `Shared.encoded`. */
const frameOwner = Symbol.for("effect-websocket/NodeTransport/frame")

/** The message as one frame, built once per message; `undefined` when `ws` cannot build it. */
const frameOf = (message: Shared): Buffer | undefined => {
  if (message.owner === frameOwner) return message.encoded as Buffer
  const data = typeof message.data === "string"
    ? Buffer.from(message.data, "utf8")
    : Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)
  const frame = CompatWs.frame(data, message.binary)
  if (frame === undefined) return undefined
  message.owner = frameOwner
  message.encoded = frame
  return frame
}

export class NodeTransport implements Transport, CompatWs.Events {
  /** The connection's side, which the peer's frames reach. */
  private readonly sink: Sink
  private closed = false
  private closedWaiters: Array<(effect: Effect.Effect<void>) => void> | undefined = undefined

  private pendingPongs = 0
  /** The most recent ping's payload, when it came with `maxPendingPongs` pongs already queued. */
  private owedPong: Buffer | undefined = undefined
  private pongWritten: (() => void) | undefined = undefined
  private drainWaiters: Array<(effect: Effect.Effect<void>) => void> | undefined = undefined
  private drainListener: (() => void) | undefined = undefined

  /**
   * Sends issued in one turn of the event loop go out in one `writev`: the first send corks the
   * socket and a `process.nextTick` uncorks it, which runs once the loop's current run (every
   * handler of the batch that completes without waiting) is over. A loop that handles 16 buffered
   * messages then makes one system call instead of 16, and a single send waits for nothing.
   */
  private corked = false
  uncork(): void {
    this.corked = false
    this.socket.uncork()
  }
  private cork(): void {
    if (this.corked) return
    this.corked = true
    this.socket.cork()
    process.nextTick(uncork, this)
  }

  /**
   * @param connect builds the connection around this transport and returns its sink
   * @param threshold with compression, the size below which messages go uncompressed; `ws` applies its
   * own threshold only without context takeover, so the transport applies it on every send
   */
  constructor(
    readonly ws: CompatWs.Socket,
    private readonly socket: Duplex,
    connect: (transport: Transport) => Sink,
    readonly extensions: string,
    private readonly threshold: number
  ) {
    this.sink = connect(this)
    ws.events = this
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    this.sink.push(
      isBinary ? Message.BinaryMessage(data) : Message.TextMessage(data.toString("utf8")),
      data.length
    )
  }

  onPing(data: Buffer): void {
    if (this.ws.readyState !== WS.WebSocket.OPEN) return
    if (this.pendingPongs >= maxPendingPongs) {
      // a copy: the ping's payload may be a view of a whole socket read
      this.owedPong = Buffer.from(data)
      return
    }
    this.pong(data)
  }

  private pong(data: Buffer): void {
    this.pendingPongs++
    this.ws.pong(
      data,
      false,
      this.pongWritten ??= () => {
        this.pendingPongs--
        const owed = this.owedPong
        if (owed === undefined || this.ws.readyState !== WS.WebSocket.OPEN) return
        this.owedPong = undefined
        this.pong(owed)
      }
    )
  }

  onPong(): void {
    this.sink.pong()
  }

  onError(error: Error): void {
    // ws is already closing with this code, and no reason: `onClose` reports what went on the wire
    this.sink.push({ _tag: "Closing", info: { code: closeCodeOf(error), reason: "", initiator: "error" } })
  }

  onClose(code: number, reason: Buffer): void {
    // closed first: the push may run the connection's end right here, which looks
    this.closed = true
    this.sink.push(Message.ConnectionClosed(code, reason.toString("utf8")))
    const waiters = this.closedWaiters
    this.closedWaiters = undefined
    if (waiters !== undefined) { for (const waiter of waiters) waiter(Effect.void) }
    this.wakeDrainWaiters()
  }

  isClosed(): boolean {
    return this.closed
  }

  get awaitClosed(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.closed) return resume(Effect.void)
      ;(this.closedWaiters ??= []).push(resume)
    })
  }

  sendText(text: string): SendError | undefined {
    if (this.ws.readyState !== WS.WebSocket.OPEN) return new SendError({ reason: "SocketClosed" })
    try {
      this.cork()
      if (this.threshold > 0 && text.length < this.threshold && Buffer.byteLength(text) < this.threshold) {
        this.ws.send(text, uncompressedText)
      } else {
        this.ws.send(text)
      }
      return undefined
    } catch (cause) {
      return new SendError({ reason: "Unknown", cause })
    }
  }

  sendBinary(data: Uint8Array): SendError | undefined {
    if (this.ws.readyState !== WS.WebSocket.OPEN) return new SendError({ reason: "SocketClosed" })
    try {
      this.cork()
      this.ws.send(data, data.length < this.threshold ? uncompressedBinary : binary)
      return undefined
    } catch (cause) {
      return new SendError({ reason: "Unknown", cause })
    }
  }

  /**
   * Without permessage-deflate, `ws` writes every frame to the socket at once (its sender queues only
   * while compressing), so the frame built for the first subscriber is written as it is to every other
   * socket, in order with this connection's own sends. With compression each connection compresses
   * with its own context: the message goes through `ws`.
   */
  sendShared(message: Shared): SendError | undefined {
    if (!CompatWs.framing) {
      warnOnce("the installed ws has no Sender.frame; each broadcast is framed once per subscriber (more CPU)")
    }
    const frame = this.extensions === "" && CompatWs.framing ? frameOf(message) : undefined
    if (frame === undefined) {
      return message.binary ? this.sendBinary(message.data as Uint8Array) : this.sendText(message.data as string)
    }
    if (this.ws.readyState !== WS.WebSocket.OPEN) return new SendError({ reason: "SocketClosed" })
    try {
      this.cork()
      this.socket.write(frame)
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

  ping(): void {
    if (this.ws.readyState !== WS.WebSocket.OPEN) return
    try {
      this.ws.ping()
    } catch {
      // a socket that cannot take a ping is closing; the heartbeat notices the missing pong
    }
  }

  pause(): void {
    this.ws.pause()
  }

  resume(): void {
    this.ws.resume()
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount
  }

  /**
   * The socket emits 'drain' once it has written everything, but only after a write it refused
   * (`writableNeedDrain`); bytes it accepted under its own mark, and bytes still in `ws`'s queue while
   * it compresses, leave without an event. Only then does a waiter also look again after a few
   * milliseconds.
   */
  get awaitDrain(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.ws.readyState !== WS.WebSocket.OPEN || this.ws.bufferedAmount === 0) return resume(Effect.void)
      const drainWillCome = this.socket.writableNeedDrain && this.ws.bufferedAmount === this.socket.writableLength
      const timer = drainWillCome ? undefined : setTimeout(() => {
        this.drainWaiters = this.drainWaiters?.filter((waiter) => waiter !== wake)
        resume(Effect.void)
      }, 5)
      const wake = (effect: Effect.Effect<void>) => {
        clearTimeout(timer)
        resume(effect)
      }
      if (this.drainListener === undefined) {
        this.drainListener = () => this.wakeDrainWaiters()
        this.socket.on("drain", this.drainListener)
      }
      ;(this.drainWaiters ??= []).push(wake)
      return Effect.sync(() => {
        clearTimeout(timer)
        this.drainWaiters = this.drainWaiters?.filter((waiter) => waiter !== wake)
      })
    })
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters
    if (waiters === undefined || waiters.length === 0) return
    this.drainWaiters = undefined
    for (const waiter of waiters) waiter(Effect.void)
  }

  isOpen(): boolean {
    return this.ws.readyState === WS.WebSocket.OPEN
  }
}

/**
 * What the server's first `'upgrade'` listener (`guard`) left for `accept` on an upgrade request's
 * socket: the bytes the client sent right after its handshake, in the same packet (its first frames:
 * Node hands them to the `'upgrade'` listeners only, and the platform's request does not carry them),
 * and the socket's `'error'` listener until `ws` has its own.
 */
interface Upgrading {
  readonly head: Buffer
  readonly onError: (error: Error) => void
}

const upgrading = new WeakMap<Duplex, Upgrading>()

/** Keeps what `accept` needs of the upgrade request on `socket`. */
export const keepUpgrading = (socket: Duplex, head: Buffer, onError: (error: Error) => void): void => {
  upgrading.set(socket, { head, onError })
}

/**
 * Upgrades the Node request behind `request` and connects the transport with `connect`. Returns
 * `undefined` when the request is not served by Node over HTTP/1.1 (another acceptor must handle it)
 * and `"gone"` when the socket closed before the handshake could complete.
 *
 * The route returns as soon as this is done, and @effect/platform-node then writes the route's
 * response onto the socket unless the Node `ServerResponse` it resolves is already ended
 * (`handleResponse` checks `writableEnded`). So the response is taken off the socket and ended
 * first: it writes nothing, and it never emits the 'finish' that would make the platform end the
 * socket. test/e2e/NodeServer.test.ts pins this on the installed platform.
 */
export const accept = (
  request: HttpServerRequest.HttpServerRequest,
  handshake: Handshake,
  connect: (transport: Transport) => Sink
): Transport | "gone" | undefined => {
  const incoming = NodeHttpServerRequest.toIncomingMessage(request)
  if (!(incoming instanceof IncomingMessage)) return undefined
  const socket = incoming.socket
  if (socket.destroyed || !socket.writable) {
    socket.destroy()
    return "gone"
  }
  const response = NodeHttpServerRequest.toServerResponse(request) as Http.ServerResponse
  if (response.socket === socket) response.detachSocket(socket as Net.Socket)
  response.end()
  const server = serverFor(handshake.wire)
  const kept = upgrading.get(socket)
  upgrading.delete(socket)
  let transport: Transport | "gone" = "gone"
  // handleUpgrade calls back synchronously when the handshake is valid (no verifyClient is set), and
  // asks for the subprotocol and the headers synchronously too, so `server.handshake` holds for this call
  server.handshake = handshake
  try {
    server.wss.handleUpgrade(incoming, socket, kept?.head ?? emptyHead, (ws) => {
      const compression = handshake.wire.compression
      transport = new NodeTransport(
        ws as CompatWs.Socket,
        socket,
        connect,
        server.extensions,
        server.extensions === "" || compression === false ? 0 : compression.threshold
      )
    })
  } finally {
    server.handshake = undefined
    server.extensions = ""
  }
  if (transport !== "gone") {
    // ws has its own 'error' listener now, and the connection reports a lost socket (1006)
    if (kept !== undefined) socket.removeListener("error", kept.onError)
    const problem = CompatPlatform.forgetRequest(request, socket)
    if (problem !== undefined) warnOnce(`${problem}; idle connections keep the request's fiber (more memory)`)
  }
  return transport
}

const warned = new Set<string>()

/** Says once per process, loudly, that an assumption about a dependency no longer holds (compat/). */
export const warnOnce = (problem: string): void => {
  if (warned.has(problem)) return
  warned.add(problem)
  Effect.runFork(Effect.logWarning(`effect-websocket: ${problem}`))
}

interface Server {
  readonly wss: WS.WebSocketServer
  handshake: Handshake | undefined
  /** The Sec-WebSocket-Extensions value of the 101 being written. */
  extensions: string
}

const servers = new WeakMap<Wire, Server>()

/** One `ws` server per route (per `Wire`), created on the route's first upgrade. */
const serverFor = (wire: Wire): Server => {
  const existing = servers.get(wire)
  if (existing !== undefined) return existing
  const server: Server = {
    handshake: undefined,
    extensions: "",
    wss: new WS.WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: wire.maxMessageSize,
      perMessageDeflate: wire.compression === false ? false : { ...wire.compression },
      autoPong: false,
      WebSocket: CompatWs.Socket,
      skipUTF8Validation: false,
      handleProtocols: () => server.handshake?.protocol ?? false
    })
  }
  server.wss.on("headers", (headers: Array<string>) => {
    const negotiated = headers.find((header) => header.startsWith("Sec-WebSocket-Extensions: "))
    if (negotiated !== undefined) server.extensions = negotiated.slice("Sec-WebSocket-Extensions: ".length)
    const extra = server.handshake?.headers
    if (extra === undefined) return
    for (const name in extra) headers.push(`${name}: ${extra[name]}`)
  })
  servers.set(wire, server)
  return server
}
