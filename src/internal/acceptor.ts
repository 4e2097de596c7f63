import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Context from "effect/Context"
import type { Decision } from "./handshake.js"
import type { ResolvedOptions } from "./options.js"
import type { Sink, Transport } from "./transport.js"

/**
 * Turns a validated handshake request into a transport connected to `sink`. `undefined`: this
 * acceptor cannot serve the request; `"gone"`: the client left before the handshake completed.
 * Without one in the context, requests go to the Node transport.
 */
export interface Acceptor {
  readonly accept: (
    request: HttpServerRequest.HttpServerRequest,
    options: ResolvedOptions,
    sink: Sink,
    decision: Decision
  ) => Transport | "gone" | undefined
}

export const Acceptor = Context.GenericTag<Acceptor>("effect-websocket/internal/Acceptor")
