/**
 * The presence store in Redis, shared by both lines: the key layout and the commands, over a client
 * the driver passes in (an `ioredis` connection, seen here only through the few commands used, so
 * that nothing is imported).
 *
 * Under `<prefix>` (the backplane's prefix followed by `@presence:`):
 * - `servers`: a set of the servers that joined;
 * - `entries:<server>`: a hash of the server's entries (ref -> JSON `{ref, topic, key, meta}`) and,
 *   under `@seq`, the number of its last change;
 * - `alive:<server>`: `1` with a time to live (PX), extended by each heartbeat (`SET ... XX`, which
 *   fails once the key expired or Redis restarted empty: the server then rewrites everything);
 * - a dead server (found by a sweep) is unlisted and its liveness deleted; its hash expires a ttl later;
 * - channel `changes`: every change, published in the same MULTI as the write it announces, so that
 *   what a server reads with HGETALL and the changes after it never disagree.
 */
import type { PresenceStore, Snapshot, Status, Stored } from "./presenceNode.js"
import { isStored } from "./presenceNode.js"

/** The commands of one queued MULTI or pipeline. */
export interface RedisBatch {
  del(key: string): RedisBatch
  hset(key: string, field: string, value: string): RedisBatch
  hdel(key: string, field: string): RedisBatch
  set(key: string, value: string, px: "PX", ttl: number): RedisBatch
  sadd(key: string, member: string): RedisBatch
  srem(key: string, member: string): RedisBatch
  pexpire(key: string, ttl: number): RedisBatch
  exists(key: string): RedisBatch
  hget(key: string, field: string): RedisBatch
  publish(channel: string, message: string): RedisBatch
  exec(): Promise<Array<[Error | null, unknown]> | null>
}

/** The commands of a Redis client the store uses (an `ioredis` client has them). */
export interface RedisClient {
  multi(): RedisBatch
  pipeline(): RedisBatch
  hgetall(key: string): Promise<Record<string, string>>
  set(key: string, value: string, px: "PX", ttl: number, xx: "XX"): Promise<string | null>
  smembers(key: string): Promise<Array<string>>
}

const seqField = "@seq"

/** A time to live as Redis takes it: whole milliseconds, at least 1 (PX refuses a fraction or 0). */
const px = (ttl: number): number => Math.max(1, Math.ceil(ttl))

/** Runs a batch; rejects with the first command's error, as a failed write must be repaired. */
const run = async (batch: RedisBatch): Promise<Array<unknown>> => {
  const results = await batch.exec()
  if (results === null) throw new Error("presence: Redis discarded the transaction")
  for (const [error] of results) if (error !== null) throw error
  return results.map(([, value]) => value)
}

export class RedisPresenceStore implements PresenceStore {
  /** The channel every change is published on. */
  readonly channel: string

  constructor(private readonly redis: RedisClient, private readonly prefix: string) {
    this.channel = `${prefix}changes`
  }

  private entries(server: string): string {
    return `${this.prefix}entries:${server}`
  }

  private aliveKey(server: string): string {
    return `${this.prefix}alive:${server}`
  }

  private get serversKey(): string {
    return `${this.prefix}servers`
  }

  async write(change: Parameters<PresenceStore["write"]>[0], event: string): Promise<void> {
    const key = this.entries(change.server)
    const batch = this.redis.multi()
    if (change.op === "join") batch.hset(key, change.entry.ref, JSON.stringify(change.entry))
    else if (change.op === "leave") batch.hdel(key, change.ref)
    batch.hset(key, seqField, String(change.seq)).publish(this.channel, event)
    await run(batch)
  }

  async rewrite(server: string, snapshot: Snapshot, ttl: number, event: string): Promise<void> {
    const key = this.entries(server)
    const batch = this.redis.multi().del(key)
    for (const entry of snapshot.entries) batch.hset(key, entry.ref, JSON.stringify(entry))
    batch.hset(key, seqField, String(snapshot.seq))
      .set(this.aliveKey(server), "1", "PX", px(ttl))
      .sadd(this.serversKey, server)
      .publish(this.channel, event)
    await run(batch)
  }

  async read(server: string): Promise<Snapshot> {
    const hash = await this.redis.hgetall(this.entries(server))
    const entries: Array<Stored> = []
    let seq = 0
    for (const field in hash) {
      if (field === seqField) {
        seq = Number(hash[field])
        continue
      }
      try {
        const entry = JSON.parse(hash[field])
        if (isStored(entry) && entry.ref === field) entries.push(entry)
      } catch {
        // not an entry of this library's: skipped
      }
    }
    return { seq: Number.isSafeInteger(seq) ? seq : 0, entries }
  }

  async heartbeat(server: string, ttl: number): Promise<boolean> {
    return (await this.redis.set(this.aliveKey(server), "1", "PX", px(ttl), "XX")) !== null
  }

  async status(servers: ReadonlyArray<string>): Promise<ReadonlyArray<Status>> {
    const batch = this.redis.pipeline()
    for (const server of servers) batch.exists(this.aliveKey(server)).hget(this.entries(server), seqField)
    const results = await run(batch)
    return servers.map((_, i) => ({ alive: results[2 * i] === 1, seq: Number(results[2 * i + 1] ?? 0) || 0 }))
  }

  servers(): Promise<ReadonlyArray<string>> {
    return this.redis.smembers(this.serversKey)
  }

  async forget(server: string, ttl: number): Promise<void> {
    await run(
      this.redis.multi().pexpire(this.entries(server), px(ttl)).del(this.aliveKey(server)).srem(this.serversKey, server)
    )
  }

  async leave(server: string, event: string): Promise<void> {
    await run(
      this.redis.multi().del(this.entries(server)).del(this.aliveKey(server)).srem(this.serversKey, server)
        .publish(this.channel, event)
    )
  }
}
