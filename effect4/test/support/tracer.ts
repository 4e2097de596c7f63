/** An in-memory tracer: every span it makes, in order, with its parent, attributes and end. */
import { type Context, type Exit, type Option, Tracer } from "effect"

export class RecordedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly name: string
  readonly spanId: string
  readonly traceId: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly annotations: Context.Context<never>
  readonly sampled: boolean
  readonly kind: Tracer.SpanKind
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  status: Tracer.SpanStatus
  exit: Exit.Exit<unknown, unknown> | undefined = undefined

  constructor(options: Parameters<Tracer.Tracer["span"]>[0], id: number) {
    this.name = options.name
    this.parent = options.parent
    this.annotations = options.annotations
    this.sampled = options.sampled
    this.kind = options.kind
    this.spanId = `span-${id}`
    this.traceId = options.parent._tag === "Some" ? options.parent.value.traceId : `trace-${id}`
    this.links = [...options.links]
    this.status = { _tag: "Started", startTime: options.startTime }
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
    this.exit = exit
  }

  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }

  event(): void {}

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }

  get parentId(): string | undefined {
    return this.parent._tag === "Some" ? this.parent.value.spanId : undefined
  }
}

/** A tracer that keeps every span in `spans`. */
export const recorder = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new RecordedSpan(options, spans.length + 1)
      spans.push(span)
      return span
    }
  })
  const named = (name: string) => spans.filter((span) => span.name === name)
  return { spans, tracer, named }
}
