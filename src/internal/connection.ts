import type * as Headers from "@effect/platform/Headers"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { type Connection, TypeId } from "../Connection.js"
import type { Transport } from "./transport.js"

export interface ConnectionImpl extends Pipeable {}

export class ConnectionImpl implements Connection {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly id: string = crypto.randomUUID()
  readonly remoteAddress: Option.Option<string>
  readonly protocol: Option.Option<string>
  readonly headers: Headers.Headers
  readonly url: string

  constructor(readonly transport: Transport, request: HttpServerRequest.HttpServerRequest, protocol: string | undefined) {
    this.remoteAddress = request.remoteAddress
    this.protocol = Option.fromNullable(protocol)
    this.headers = request.headers
    this.url = request.url
  }

  get extensions(): string {
    return this.transport.extensions
  }
}

ConnectionImpl.prototype.pipe = function(this: ConnectionImpl) {
  // eslint-disable-next-line prefer-rest-params
  return pipeArguments(this, arguments)
}
