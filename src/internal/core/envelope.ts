/**
 * Requests, replies and heartbeats on a JSON protocol: the envelope around a request's payload and a
 * reply's value, and the table of requests waiting for their reply. Both ends (the server's typed
 * routes and the `Client`) use it, on both Effect lines. No Effect, no sockets, no `JSON` schema: the
 * values inside arrive here already encoded to JSON text, and leave parsed for the schemas to decode.
 *
 * On the wire (every envelope starts with `{"@`, so a frame that does not is never parsed twice):
 *
 * ```
 * {"@request":"join","@ref":3,"payload":{...}}   a request; "payload" is left out for `undefined`
 * {"@reply":3,"ok":{...}}                        its success ("ok" left out for `undefined`)
 * {"@reply":3,"error":{...}}                     its failure
 * {"@heartbeat":7}                               a client's heartbeat; the server sends it back as it is
 * ```
 */

/** A frame that is an envelope, parsed. */
export type Envelope =
  | { readonly _tag: "Heartbeat"; readonly id: number }
  | { readonly _tag: "Request"; readonly name: string; readonly ref: number; readonly payload: unknown }
  | { readonly _tag: "Reply"; readonly ref: number; readonly ok: boolean; readonly value: unknown }

/** Whether a text frame may be an envelope (it starts with `{"@`): the only test a plain message pays. */
export const mayBeEnvelope = (text: string): boolean =>
  text.charCodeAt(2) === 64 && text.charCodeAt(0) === 123 && text.charCodeAt(1) === 34

const isRef = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0

const hasOwn = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key)

/**
 * The envelope in a text frame, or `undefined` when the frame is not one (not JSON, or an object
 * without the keys of an envelope): then it is a plain message, for the protocol's schema.
 */
export const parse = (text: string): Envelope | undefined => {
  if (!mayBeEnvelope(text)) return undefined
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined
  const o = json as Record<string, unknown>
  if (hasOwn(o, "@heartbeat")) return isRef(o["@heartbeat"]) ? { _tag: "Heartbeat", id: o["@heartbeat"] } : undefined
  if (hasOwn(o, "@reply")) {
    if (!isRef(o["@reply"])) return undefined
    const failed = hasOwn(o, "error")
    return { _tag: "Reply", ref: o["@reply"], ok: !failed, value: failed ? o.error : o.ok }
  }
  if (hasOwn(o, "@request")) {
    const name = o["@request"]
    const ref = o["@ref"]
    return typeof name === "string" && isRef(ref) ? { _tag: "Request", name, ref, payload: o.payload } : undefined
  }
  return undefined
}

/** A heartbeat frame; the server answers with the same text. */
export const heartbeat = (id: number): string => `{"@heartbeat":${id}}`

/** A request frame; `payload` is the payload's JSON text, `undefined` to leave it out. */
export const request = (name: string, ref: number, payload: string | undefined): string =>
  payload === undefined
    ? `{"@request":${JSON.stringify(name)},"@ref":${ref}}`
    : `{"@request":${JSON.stringify(name)},"@ref":${ref},"payload":${payload}}`

/** A reply frame; `value` is the success's or the failure's JSON text, `undefined` to leave it out. */
export const reply = (ref: number, ok: boolean, value: string | undefined): string =>
  value === undefined
    ? (ok ? `{"@reply":${ref}}` : `{"@reply":${ref},"error":null}`)
    : `{"@reply":${ref},"${ok ? "ok" : "error"}":${value}}`

/**
 * The requests one end sent and waits on, by ref. Refs count up from 1 for the life of the table
 * (a client keeps one table across reconnections, so a late reply from an earlier connection never
 * matches a newer request).
 */
export class Pending<T> {
  private nextRef = 1
  private readonly waiting = new Map<number, T>()

  /** Keeps `entry` under a new ref, and returns the ref. */
  add(entry: T): number {
    const ref = this.nextRef++
    this.waiting.set(ref, entry)
    return ref
  }

  /** The entry waiting under `ref`, removed; `undefined` for a ref nobody waits on (late, or never sent). */
  take(ref: number): T | undefined {
    const entry = this.waiting.get(ref)
    if (entry !== undefined) this.waiting.delete(ref)
    return entry
  }

  /** Forgets `ref` (its request timed out or was interrupted). */
  remove(ref: number): void {
    this.waiting.delete(ref)
  }

  get size(): number {
    return this.waiting.size
  }

  /** The entries `predicate` picks, removed: those sent on a connection that ended. */
  removeWhere(predicate: (entry: T) => boolean): Array<T> {
    const removed: Array<T> = []
    for (const [ref, entry] of this.waiting) {
      if (predicate(entry)) {
        this.waiting.delete(ref)
        removed.push(entry)
      }
    }
    return removed
  }

  /** Every entry, removed: the connection ended and none of them will get a reply. */
  drain(): Array<T> {
    const entries = [...this.waiting.values()]
    this.waiting.clear()
    return entries
  }
}
