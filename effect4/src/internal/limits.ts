/** Connection limits of one route: the core's counts (core/limits.ts), answered before the upgrade. */
import * as Duration from "effect/Duration"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Core from "./core/limits.js"
import type { ResolvedOptions } from "./options.js"

export class Counts extends Core.Counts {
  private readonly full: HttpServerResponse.HttpServerResponse
  private readonly tooMany = HttpServerResponse.text("Too many connections from this address", { status: 429 })

  constructor(options: ResolvedOptions) {
    super(options.maxConnections, options.maxConnectionsPerAddress)
    this.full = HttpServerResponse.text("Too many connections", {
      status: 503,
      headers: { "retry-after": String(Math.ceil(Duration.toSeconds(options.retryAfter))) }
    })
  }

  /** The response refusing one more connection from `address`, or `undefined` if it fits. */
  response(address: string): HttpServerResponse.HttpServerResponse | undefined {
    const refusal = this.refuse(address)
    return refusal === undefined ? undefined : refusal === "total" ? this.full : this.tooMany
  }
}
