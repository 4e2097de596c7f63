/**
 * The in-memory transport: a server side that the loop drives, and a peer (the test client) that
 * behaves like a `ws` client: it answers the server's close frame, and its own close is answered by
 * the server as `ws` does. No sockets, no timers, so it runs under `TestClock`.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Queue from "effect/Queue"
import { SendError } from "../Connection.js"
import * as Message from "../Message.js"
import * as Close from "./close.js"
import type { Sink, Transport } from "./transport.js"

/** A frame the server sent to the peer. */
export type Frame =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Binary"; readonly data: Uint8Array }
  | { readonly _tag: "Close"; readonly code: number; readonly reason: string }

type State = "open" | "closing" | "closed"

export class MemoryConnection implements Transport {
  state: State = "open"
  /** Frames from the server, in order; a `Close` frame is always the last one. */
  readonly outbound = Effect.runSync(Queue.unbounded<Frame>())
  private readonly closedSignal = Deferred.unsafeMake<void>(FiberId.none)
  readonly awaitClosed = Deferred.await(this.closedSignal)
  /** The close as the peer saw it: the server's close frame, the echo of its own, or 1006. */
  readonly peerClosed = Deferred.unsafeMake<{ readonly code: number; readonly reason: string }>(FiberId.none)

  /** `answersClose: false` makes a peer that never answers the server's close frame. */
  constructor(readonly sink: Sink, readonly options: { readonly answersClose?: boolean } = {}) {}

  // server side

  sendText(text: string): SendError | undefined {
    if (this.state !== "open") return new SendError({ reason: "SocketClosed" })
    this.outbound.unsafeOffer({ _tag: "Text", text })
    return undefined
  }

  sendBinary(data: Uint8Array): SendError | undefined {
    if (this.state !== "open") return new SendError({ reason: "SocketClosed" })
    this.outbound.unsafeOffer({ _tag: "Binary", data: data.slice() })
    return undefined
  }

  close(code: number, reason: string): void {
    if (this.state !== "open") return
    this.outbound.unsafeOffer({ _tag: "Close", code, reason })
    if (this.options.answersClose === false) {
      this.state = "closing"
      Deferred.unsafeDone(this.peerClosed, Exit.succeed({ code, reason }))
      return
    }
    // the peer answers at once, as a ws client does
    this.finish(code, reason)
  }

  terminate(): void {
    if (this.state === "closed") return
    this.finish(Close.Abnormal, "")
  }

  isOpen(): boolean {
    return this.state === "open"
  }

  // peer side

  peerSend(message: Message.TextMessage | Message.BinaryMessage): boolean {
    if (this.state !== "open") return false
    this.sink.push(message)
    return true
  }

  /** The peer's close handshake: the server echoes the code, then both sides are closed. */
  peerClose(code: number | undefined, reason: string): boolean {
    if (this.state !== "open") return false
    this.state = "closing"
    const echo = code === undefined ? Message.ConnectionClosed(Close.NoStatus, "") : Message.ConnectionClosed(code, reason)
    this.outbound.unsafeOffer({ _tag: "Close", code: echo.code, reason: echo.reason })
    this.sink.push(echo)
    this.finish(echo.code, echo.reason)
    return true
  }

  /** The transport is lost without a close frame. */
  peerDrop(): boolean {
    if (this.state === "closed") return false
    this.sink.push(Message.ConnectionClosed(Close.Abnormal, ""))
    this.finish(Close.Abnormal, "")
    return true
  }

  private finish(code: number, reason: string): void {
    this.state = "closed"
    Deferred.unsafeDone(this.peerClosed, Exit.succeed({ code, reason }))
    Deferred.unsafeDone(this.closedSignal, Exit.void)
  }
}
