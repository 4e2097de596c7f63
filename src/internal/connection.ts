import { type Connection, TypeId } from "../Connection.js"
import type { Transport } from "./transport.js"

export class ConnectionImpl implements Connection {
  readonly [TypeId]: typeof TypeId = TypeId
  constructor(readonly transport: Transport) {}
}
