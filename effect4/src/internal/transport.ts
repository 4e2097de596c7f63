import type { Shared, Sink, Transport } from "../Acceptor.js"
import type { CloseInfo } from "../Connection.js"

export type { Shared, Sink, Transport }

/** Where a close the server decides is reported: the connection's inbox. */
export type Report = Pick<Sink, "push">

/** The server closes with `info.code` and tells the loop why, so that `onClose` gets `info`. */
export const closeAndReport = (transport: Transport, report: Report, info: CloseInfo): void => {
  transport.close(info.code, info.reason)
  report.push({ _tag: "Closing", info })
}
