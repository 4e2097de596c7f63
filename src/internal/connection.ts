import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { type Connection, TypeId } from "../Connection.js"
import type { Transport } from "./transport.js"

export interface ConnectionImpl extends Pipeable {}

export class ConnectionImpl implements Connection {
  readonly [TypeId]: typeof TypeId = TypeId
  constructor(readonly transport: Transport) {}
}

ConnectionImpl.prototype.pipe = function(this: ConnectionImpl) {
  // eslint-disable-next-line prefer-rest-params
  return pipeArguments(this, arguments)
}
