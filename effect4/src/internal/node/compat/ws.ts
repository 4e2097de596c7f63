/**
 * What the library assumes of `ws` beyond its documented API, in one place. Each assumption has a
 * test that fails on an installed `ws` that breaks it (test/unit/compat.test.ts); none falls back silently.
 *
 * - A `WebSocket` reports a connection's events by calling its own `emit` (lib/websocket.js): a
 *   subclass that overrides `emit` receives them with no listener closure per connection.
 * - `Sender.frame` (exported by lib/sender.js, missing from @types/ws) builds a frame's bytes, so a
 *   broadcast is framed once for all its subscribers.
 */
import * as WS from "ws"

/** Where a connection's events go: the transport. */
export interface Events {
  readonly onMessage: (data: Buffer, isBinary: boolean) => void
  readonly onPing: (data: Buffer) => void
  readonly onPong: () => void
  readonly onError: (error: Error) => void
  readonly onClose: (code: number, reason: Buffer) => void
}

/**
 * The `ws` socket of one connection: its events go straight to `events`, with no listener closures
 * per connection.
 */
export class Socket extends WS.WebSocket {
  events: Events | undefined = undefined

  override emit(event: string | symbol, a?: any, b?: any): boolean {
    const events = this.events
    if (events === undefined) return false
    switch (event) {
      case "message":
        events.onMessage(a as Buffer, b as boolean)
        return true
      case "ping":
        events.onPing(a as Buffer)
        return true
      case "pong":
        events.onPong()
        return true
      case "error":
        events.onError(a as Error)
        return true
      case "close":
        events.onClose(a as number, b as Buffer)
        return true
      default:
        return false
    }
  }
}

interface FrameOptions {
  readonly fin: boolean
  readonly opcode: number
  readonly mask: boolean
  readonly readOnly: boolean
  readonly rsv1: boolean
}

const Sender = (WS as unknown as { readonly Sender?: { readonly frame?: unknown } }).Sender

/** `ws`'s frame builder, or `undefined` when the installed `ws` no longer exports it. */
const senderFrame = typeof Sender?.frame === "function"
  ? Sender.frame as (data: Buffer, options: FrameOptions) => Array<Buffer>
  : undefined

/** Whether the installed `ws` can build frames (`Sender.frame`); when not, broadcasts go through `ws` per connection. */
export const framing: boolean = senderFrame !== undefined

/**
 * `data` as one unmasked, uncompressed, final frame (opcode 1 for text, 2 for binary), built by
 * `ws`'s own `Sender.frame`; `undefined` when the installed `ws` has none, and the caller sends
 * through `ws` per connection instead (test/unit/compat.test.ts fails on such a `ws`).
 */
export const frame = (data: Buffer, binary: boolean): Buffer | undefined =>
  senderFrame === undefined
    ? undefined
    : Buffer.concat(senderFrame(data, { fin: true, opcode: binary ? 2 : 1, mask: false, readOnly: true, rsv1: false }))
