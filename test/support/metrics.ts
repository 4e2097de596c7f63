/** Reading the library's metrics by their public names, from the registry's snapshot, as an exporter does. */
import { Effect, Metric } from "effect"

const find = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs.find((pair) =>
      pair.metricKey.name === name &&
      Object.entries(tags).every(([key, value]) =>
        pair.metricKey.tags.some((tag) => tag.key === key && tag.value === value)
      )
    ))

/** A counter's or a gauge's value (0 when the metric was never updated with these tags). */
export const valueOf = (name: string, tags: Record<string, string> = {}) =>
  Effect.map(find(name, tags), (pair) => {
    const state = pair?.metricState as { readonly count?: number; readonly value?: number } | undefined
    return state?.count ?? state?.value ?? 0
  })

/** A histogram's count and sum. */
export const histogramOf = (name: string, tags: Record<string, string> = {}) =>
  Effect.map(find(name, tags), (pair) => {
    const state = pair?.metricState as { readonly count: number; readonly sum: number } | undefined
    return { count: state?.count ?? 0, sum: state?.sum ?? 0 }
  })
