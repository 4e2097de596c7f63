/**
 * Messages that reach a connection's `onMessage` handler.
 *
 * Port of Dream's `websocket.Message(custom)`. A message is one of:
 *
 * - `TextMessage`: a text frame from the client (always valid UTF-8).
 * - `BinaryMessage`: a binary frame from the client.
 * - `CustomMessage`: a value from the application, pulled from the connection's selector `Stream`.
 * - `ConnectionClosed`: the peer closed the connection (close frame, or the transport was lost).
 *   Delivered at most once, last; the `Action` returned for it is ignored.
 *
 * Messages are `Data` values: two messages with the same tag and fields are `Equal.equals`.
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * const describe = Message.match({
 *   TextMessage: (m) => `text ${m.text}`,
 *   BinaryMessage: (m) => `${m.data.length} bytes`,
 *   CustomMessage: (m) => `custom ${String(m.value)}`,
 *   ConnectionClosed: (m) => `closed ${m.code}`
 * })
 *
 * describe(Message.TextMessage("hello")) // "text hello"
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import { dual } from "effect/Function"

/**
 * A text frame received from the client.
 *
 * @since 0.1.0
 * @category models
 */
export interface TextMessage {
  readonly _tag: "TextMessage"
  readonly text: string
}

/**
 * A binary frame received from the client.
 *
 * @since 0.1.0
 * @category models
 */
export interface BinaryMessage {
  readonly _tag: "BinaryMessage"
  readonly data: Uint8Array
}

/**
 * A value from the application, pulled from the connection's selector `Stream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomMessage<out Custom> {
  readonly _tag: "CustomMessage"
  readonly value: Custom
}

/**
 * The peer closed the connection. `code` and `reason` are the peer's; `1005` (no status) when its
 * close frame had no code, `1006` (abnormal closure) when the transport was lost without a close frame.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionClosed {
  readonly _tag: "ConnectionClosed"
  readonly code: number
  readonly reason: string
}

/**
 * Messages that can be received over a WebSocket connection.
 *
 * Port of Dream's `websocket.Message(custom)`.
 *
 * @since 0.1.0
 * @category models
 */
export type Message<Custom> = TextMessage | BinaryMessage | CustomMessage<Custom> | ConnectionClosed

const TextMessageImpl = Data.TaggedClass("TextMessage")<{ readonly text: string }>
const BinaryMessageImpl = Data.TaggedClass("BinaryMessage")<{ readonly data: Uint8Array }>
const CustomMessageImpl = Data.TaggedClass("CustomMessage")<{ readonly value: unknown }>
const ConnectionClosedImpl = Data.TaggedClass("ConnectionClosed")<{ readonly code: number; readonly reason: string }>

/**
 * Builds a `TextMessage`. Port of Dream's `TextMessage(String)` constructor.
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * const message = Message.TextMessage("hello")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const TextMessage = (text: string): TextMessage => new TextMessageImpl({ text })

/**
 * Builds a `BinaryMessage`. Port of Dream's `BinaryMessage(BitArray)` constructor.
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * const message = Message.BinaryMessage(new Uint8Array([1, 2, 3]))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const BinaryMessage = (data: Uint8Array): BinaryMessage => new BinaryMessageImpl({ data })

/**
 * Builds a `CustomMessage`. Port of Dream's `CustomMessage(custom)` constructor.
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * const message = Message.CustomMessage({ kind: "tick" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const CustomMessage = <Custom>(value: Custom): CustomMessage<Custom> =>
  new CustomMessageImpl({ value }) as CustomMessage<Custom>

/**
 * Builds a `ConnectionClosed`. Port of Dream's `ConnectionClosed` constructor, which here carries the
 * peer's close code and reason.
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * const message = Message.ConnectionClosed(1000, "bye")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const ConnectionClosed = (code: number, reason: string = ""): ConnectionClosed =>
  new ConnectionClosedImpl({ code, reason })

/**
 * Is this message a text frame from the client?
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * Message.isTextMessage(Message.TextMessage("hi")) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isTextMessage = <Custom>(message: Message<Custom>): message is TextMessage =>
  message._tag === "TextMessage"

/**
 * Is this message a binary frame from the client?
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * Message.isBinaryMessage(Message.BinaryMessage(new Uint8Array(1))) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isBinaryMessage = <Custom>(message: Message<Custom>): message is BinaryMessage =>
  message._tag === "BinaryMessage"

/**
 * Is this message a value from the connection's selector stream?
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * Message.isCustomMessage(Message.CustomMessage(42)) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isCustomMessage = <Custom>(message: Message<Custom>): message is CustomMessage<Custom> =>
  message._tag === "CustomMessage"

/**
 * Is this message the peer's close?
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * Message.isConnectionClosed(Message.ConnectionClosed(1000)) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isConnectionClosed = <Custom>(message: Message<Custom>): message is ConnectionClosed =>
  message._tag === "ConnectionClosed"

/**
 * One function per kind of message, for `match`.
 *
 * @since 0.1.0
 * @category pattern matching
 */
export interface Cases<in Custom, out A, out B, out C, out D> {
  readonly TextMessage: (message: TextMessage) => A
  readonly BinaryMessage: (message: BinaryMessage) => B
  readonly CustomMessage: (message: CustomMessage<Custom>) => C
  readonly ConnectionClosed: (message: ConnectionClosed) => D
}

/**
 * Exhaustive pattern match over a message, in the style of Gleam's `case`.
 *
 * @example
 * ```ts
 * import { Message } from "effect-websocket"
 *
 * const size = Message.match(Message.TextMessage("hello"), {
 *   TextMessage: (m) => m.text.length,
 *   BinaryMessage: (m) => m.data.length,
 *   CustomMessage: () => 0,
 *   ConnectionClosed: () => 0
 * }) // 5
 * ```
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const match: {
  <Custom, A, B = A, C = A, D = A>(
    cases: Cases<Custom, A, B, C, D>
  ): (self: Message<Custom>) => A | B | C | D
  <Custom, A, B = A, C = A, D = A>(
    self: Message<Custom>,
    cases: Cases<Custom, A, B, C, D>
  ): A | B | C | D
} = dual(2, <Custom, A, B, C, D>(
  self: Message<Custom>,
  cases: Cases<Custom, A, B, C, D>
): A | B | C | D => {
  switch (self._tag) {
    case "TextMessage":
      return cases.TextMessage(self)
    case "BinaryMessage":
      return cases.BinaryMessage(self)
    case "CustomMessage":
      return cases.CustomMessage(self)
    case "ConnectionClosed":
      return cases.ConnectionClosed(self)
  }
})
