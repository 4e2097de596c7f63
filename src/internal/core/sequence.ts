/**
 * Numbers what one server sends on a topic, so that a receiver can tell a gap or an out-of-order
 * arrival: per topic, a stream name and 1, 2, 3... The stream name is the server's id and a counter,
 * so two servers, or one topic forgotten and numbered again, never share a stream: a receiver keeps the
 * last number per stream and expects the next one, and a stream it has not seen starts at 1.
 *
 * At most `capacity` topics keep their number (the least recently used is forgotten beyond it), so an
 * app with a topic per user or per room keeps a bounded map; a forgotten topic starts a new stream.
 */

/** Where one message stands in its topic: `seq` counts from 1 within `stream`. */
export interface Position {
  readonly stream: string
  readonly seq: number
}

interface Counter {
  readonly stream: string
  seq: number
}

/** How many topics keep their number by default: enough for an app's live topics, bounded for the rest. */
export const defaultCapacity = 100_000

export class Sequencer {
  private readonly counters = new Map<string, Counter>()
  private streams = 0

  constructor(private readonly server: string, private readonly capacity: number = defaultCapacity) {}

  /** The position of the next message on `topic`. */
  next(topic: string): Position {
    const counter = this.counter(topic)
    return { stream: counter.stream, seq: ++counter.seq }
  }

  /**
   * The position of the last message on `topic` (seq 0 when there was none yet): what a receiver that
   * starts from a snapshot taken now expects to continue from.
   */
  current(topic: string): Position {
    const counter = this.counter(topic)
    return { stream: counter.stream, seq: counter.seq }
  }

  private counter(topic: string): Counter {
    let counter = this.counters.get(topic)
    if (counter === undefined) {
      counter = { stream: `${this.server}.${(++this.streams).toString(36)}`, seq: 0 }
      if (this.counters.size >= this.capacity) {
        // Map iteration is insertion order, and a used topic is moved to the end: the first is the oldest
        const oldest = this.counters.keys().next()
        if (oldest.done !== true) this.counters.delete(oldest.value)
      }
    } else {
      this.counters.delete(topic)
    }
    this.counters.set(topic, counter)
    return counter
  }

  /** How many topics keep a number. */
  get size(): number {
    return this.counters.size
  }
}
