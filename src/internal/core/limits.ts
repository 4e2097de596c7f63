/** A route's connection limits on one server: a total, and per remote address. No Effect, no HTTP. */

/** Why one more connection does not fit: the route's total, or its share for one address. */
export type Refusal = "total" | "address"

export class Counts {
  private total = 0
  private readonly perAddress = new Map<string, number>()

  /** @param maxConnections and `maxPerAddress`: `Infinity` for no limit */
  constructor(private readonly maxConnections: number, private readonly maxPerAddress: number) {}

  /** Why one more connection from `address` does not fit, or `undefined` if it does. */
  refuse(address: string): Refusal | undefined {
    if (this.total >= this.maxConnections) return "total"
    if ((this.perAddress.get(address) ?? 0) >= this.maxPerAddress) return "address"
    return undefined
  }

  add(address: string): void {
    this.total++
    if (this.maxPerAddress !== Number.POSITIVE_INFINITY) {
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
