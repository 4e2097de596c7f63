/**
 * The in-memory transport: a server side that the loop drives, and a peer (the test client) that
 * behaves like a `ws` client: it answers the server's close frame, and its own close is answered by
 * the server as `ws` does. No sockets and no timers, so it runs under `TestClock`.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { CloseInfo } from "../../Connection.js"
import * as Message from "../../Message.js"
import type { Closed, Frame } from "../../Testing.js"
import * as Close from "../core/close.js"
import { utf8Length } from "../core/close.js"
import { SendError } from "../errors.js"
import { Signal } from "../signal.js"
import type { Shared, Sink, Transport } from "../transport.js"

type State = "open" | "closing" | "closed"

export class MemoryConnection implements Transport {
  state: State = "open"
  readonly extensions = ""
  /** Data frames from the server not read by the peer yet, in order. */
  private readonly frames: Array<Frame> = []
  /** The close as the peer saw it: the server's close frame, the echo of its own, or 1006. */
  readonly peerClosed = Deferred.makeUnsafe<Closed>()
  closedAs: Closed | undefined = undefined
  /** How the server side ended the connection, once its loop is done. */
  readonly closeInfo = Deferred.makeUnsafe<CloseInfo>()
  private readonly closedSignal = Deferred.makeUnsafe<void>()
  readonly awaitClosed = Deferred.await(this.closedSignal)

  /** Pings the server sent. */
  pings = 0
  /** Bytes of frames the server sent that the peer has not read yet. */
  private buffered = 0
  private paused = false
  /** Woken when the peer reads a frame, when the server stops or starts reading, and at the close. */
  private readonly changed = new Signal()

  /**
   * `answersClose: false` makes a peer that never answers the server's close frame, `answersPings:
   * false` one that never answers pings (a half-open connection).
   */
  /** The connection's side that the peer's frames reach. */
  readonly sink: Sink

  /** @param connect builds the connection around this transport and returns its sink */
  constructor(
    connect: (transport: Transport) => Sink,
    readonly options: {
      readonly answersClose?: boolean
      readonly answersPings?: boolean
      /** Larger messages close with 1009, as the Node transport does. */
      readonly maxMessageSize?: number
    } = {}
  ) {
    this.sink = connect(this)
  }

  // server side

  sendText(text: string): SendError | undefined {
    if (this.state !== "open") return new SendError({ reason: "SocketClosed" })
    this.buffered += utf8Length(text)
    this.frames.push({ _tag: "Text", text })
    this.changed.wake()
    return undefined
  }

  sendBinary(data: Uint8Array): SendError | undefined {
    if (this.state !== "open") return new SendError({ reason: "SocketClosed" })
    this.buffered += data.length
    this.frames.push({ _tag: "Binary", data: data.slice() })
    this.changed.wake()
    return undefined
  }

  sendShared(message: Shared): SendError | undefined {
    return message.binary ? this.sendBinary(message.data as Uint8Array) : this.sendText(message.data as string)
  }

  ping(): void {
    if (this.state !== "open") return
    this.pings++
    if (this.options.answersPings !== false) this.sink.pong()
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.changed.wake()
  }

  bufferedAmount(): number {
    return this.buffered
  }

  /** Succeeds when the peer has read something (or everything), or the connection is closed. */
  readonly awaitDrain: Effect.Effect<void> = Effect.suspend(() =>
    this.state !== "open" || this.buffered === 0 ? Effect.void : this.changed.next()
  )

  close(code: number, reason: string): void {
    if (this.state !== "open") return
    this.sawClose({ code, reason })
    if (this.options.answersClose === false) {
      this.state = "closing"
      return
    }
    // the peer answers at once, as a ws client does
    this.finish()
  }

  terminate(): void {
    if (this.state === "closed") return
    this.sawClose({ code: Close.Abnormal, reason: "" })
    this.finish()
  }

  isClosed(): boolean {
    return this.state === "closed"
  }

  isOpen(): boolean {
    return this.state === "open"
  }

  /** The server side is done with the connection (told by the test kit's acceptor). */
  ended(info: CloseInfo): void {
    Deferred.doneUnsafe(this.closeInfo, Exit.succeed(info))
  }

  // peer side

  /** The next frame the server sent, read by the peer (it no longer counts as buffered). */
  readFrame(): Frame | undefined {
    const frame = this.frames.shift()
    if (frame === undefined) return undefined
    this.buffered -= frame._tag === "Text" ? utf8Length(frame.text) : frame.data.length
    this.changed.wake()
    return frame
  }

  /** Succeeds when a frame is there to read, or no frame can come any more (a close was seen). */
  readonly awaitFrame: Effect.Effect<void> = this.changed.until(() =>
    this.frames.length > 0 || this.closedAs !== undefined
  )

  /** Waits while the server does not read (its inbox is full), as a TCP sender would. */
  readonly awaitReadable: Effect.Effect<void> = this.changed.until(() => !this.paused || this.state !== "open")

  peerSend(message: Message.TextMessage | Message.BinaryMessage): boolean {
    if (this.state !== "open") return false
    const size = message._tag === "TextMessage" ? utf8Length(message.text) : message.data.length
    if (size > (this.options.maxMessageSize ?? Number.POSITIVE_INFINITY)) {
      // as ws does: the server closes with 1009 and no reason, and the message never reaches the loop
      this.close(Close.MessageTooBig, "")
      this.sink.push({ _tag: "Closing", info: { code: Close.MessageTooBig, reason: "", initiator: "error" } })
      return true
    }
    this.sink.push(message)
    return true
  }

  hasFrame(): boolean {
    return this.frames.length > 0
  }

  peekFrame(): Frame | undefined {
    return this.frames[0]
  }

  /** The peer's close handshake: the server echoes the code (1005 for none), then both sides are closed. */
  peerClose(code: number | undefined, reason: string): boolean {
    if (this.state !== "open") return false
    this.state = "closing"
    const echo = code === undefined
      ? Message.ConnectionClosed(Close.NoStatus, "")
      : Message.ConnectionClosed(code, reason)
    this.sawClose({ code: echo.code, reason: echo.reason })
    // closed first, as the Node transport: the push may run the connection's end right here
    this.finish()
    this.sink.push(echo)
    return true
  }

  /** The transport is lost without a close frame. */
  peerDrop(): boolean {
    if (this.state === "closed") return false
    this.sawClose({ code: Close.Abnormal, reason: "" })
    this.finish()
    this.sink.push(Message.ConnectionClosed(Close.Abnormal, ""))
    return true
  }

  private sawClose(closed: Closed): void {
    if (this.closedAs !== undefined) return
    this.closedAs = closed
    Deferred.doneUnsafe(this.peerClosed, Exit.succeed(closed))
    this.changed.wake()
  }

  private finish(): void {
    this.state = "closed"
    Deferred.doneUnsafe(this.closedSignal, Exit.void)
    this.changed.wake()
  }
}
