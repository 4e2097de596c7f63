/** Reading the library's metrics by their public names, from the registry's snapshot, as an exporter does. */
import { Effect, Metric } from "effect"

const find = (name: string, attributes: Record<string, string>) =>
  Effect.map(Metric.snapshot, (snapshots) =>
    snapshots.find((snapshot) =>
      snapshot.id === name &&
      Object.entries(attributes).every(([key, value]) => snapshot.attributes?.[key] === value)
    ))

/** A counter's or a gauge's value (0 when the metric was never updated with these attributes). */
export const valueOf = (name: string, attributes: Record<string, string> = {}) =>
  Effect.map(find(name, attributes), (snapshot) => {
    const state = snapshot?.state as { readonly count?: number; readonly value?: number } | undefined
    return state?.count ?? state?.value ?? 0
  })

/** A histogram's count and sum. */
export const histogramOf = (name: string, attributes: Record<string, string> = {}) =>
  Effect.map(find(name, attributes), (snapshot) => {
    const state = snapshot?.state as { readonly count: number; readonly sum: number } | undefined
    return { count: state?.count ?? 0, sum: state?.sum ?? 0 }
  })
