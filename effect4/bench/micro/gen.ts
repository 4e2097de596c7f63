// bench/micro/gen.ts on Effect 4: a turn's cost by handler shape (Effect.as against Effect.gen reading
// two services), each run as a fresh fiber with the services' Context (Effect.runForkWith, as the
// Effect 4 loop runs a turn) and with runSyncWith. Run on Node >= 22.12 from effect4/:
// node ../scripts/node22.mjs ../node_modules/tsx/dist/cli.mjs bench/micro/gen.ts
import { Context, Effect, Layer, Ref, Scope } from "effect"

class Counter extends Context.Service<Counter, Ref.Ref<number>>()("bench/Counter") {}
class Format extends Context.Service<Format, { readonly reply: (text: string) => string }>()("bench/Format") {}

const context = Effect.runSync(
  Effect.flatMap(
    Scope.make(),
    (scope) =>
      Layer.buildWithScope(
        Layer.mergeAll(Layer.effect(Counter, Ref.make(0)), Layer.succeed(Format, { reply: (t: string) => t })),
        scope
      )
  )
)
const runFork = Effect.runForkWith(context)
const runSync = Effect.runSyncWith(context)

const shapes = {
  "Effect.as": () => Effect.as(Effect.void, 1),
  "Effect.gen, no services": () =>
    Effect.gen(function*() {
      yield* Effect.void
      return 1
    }),
  "Effect.gen, two services and a Ref": () =>
    Effect.gen(function*() {
      const counter = yield* Counter
      const format = yield* Format
      yield* Ref.update(counter, (n) => n + 1)
      format.reply("x")
      yield* Effect.void
      return 1
    })
}

for (let round = 0; round < 3; round++) {
  for (const [name, make] of Object.entries(shapes)) {
    const n = 200_000
    const start = performance.now()
    for (let i = 0; i < n; i++) runFork(make())
    const inFiber = performance.now() - start
    const start2 = performance.now()
    for (let i = 0; i < n; i++) runSync(make())
    const sync = performance.now() - start2
    if (round === 2) {
      console.log(
        `${name.padEnd(40)} runFork ${(inFiber * 1000 / n).toFixed(2)} µs   runSync ${(sync * 1000 / n).toFixed(2)} µs`
      )
    }
  }
}
