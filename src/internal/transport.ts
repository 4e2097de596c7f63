import type { Sink, Transport } from "../Acceptor.js"
import type { CloseInfo } from "../Connection.js"

export type { Sink, Transport }

/** The server closes with `info.code` and tells the loop why, so that `onClose` gets `info`. */
export const closeAndReport = (transport: Transport, sink: Sink, info: CloseInfo): void => {
  transport.close(info.code, info.reason)
  sink.push({ _tag: "Closing", info })
}
