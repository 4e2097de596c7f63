/** Connection limits of one route: a total, and per remote address, answered before the upgrade. */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import type { ResolvedOptions } from "./options.js"

export class Counts {
  private total = 0
  private readonly perAddress = new Map<string, number>()
  private readonly full: HttpServerResponse.HttpServerResponse
  private readonly tooMany = HttpServerResponse.text("Too many connections from this address", { status: 429 })

  constructor(private readonly options: ResolvedOptions) {
    this.full = HttpServerResponse.text("Too many connections", {
      status: 503,
      headers: { "retry-after": String(Math.ceil(Duration.toSeconds(options.retryAfter))) }
    })
  }

  /** The response refusing one more connection from `address`, or `undefined` if it fits. */
  refuse(address: string): HttpServerResponse.HttpServerResponse | undefined {
    if (this.total >= this.options.maxConnections) return this.full
    if ((this.perAddress.get(address) ?? 0) >= this.options.maxConnectionsPerAddress) return this.tooMany
    return undefined
  }

  add(address: string): void {
    this.total++
    if (this.options.maxConnectionsPerAddress !== Number.POSITIVE_INFINITY) {
      this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1)
    }
  }

  remove(address: string): void {
    this.total--
    const count = this.perAddress.get(address)
    if (count === undefined) return
    if (count <= 1) this.perAddress.delete(address)
    else this.perAddress.set(address, count - 1)
  }
}
