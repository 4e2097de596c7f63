// A turn's cost by handler shape: Effect.as against Effect.gen reading two services, each run as a
// fresh fiber from a runtime (as the loop runs a turn). node --import tsx bench/micro/gen.ts
import { Context, Effect, Layer, Ref, Runtime } from "effect"

class Counter extends Context.Tag("bench/Counter")<Counter, Ref.Ref<number>>() {}
class Format extends Context.Tag("bench/Format")<Format, { readonly reply: (text: string) => string }>() {}

const runtime = Effect.runSync(
  Layer.toRuntime(Layer.mergeAll(Layer.effect(Counter, Ref.make(0)), Layer.succeed(Format, { reply: (t) => t })))
    .pipe(Effect.scoped)
)
const runFork = Runtime.runFork(runtime)

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
    for (let i = 0; i < n; i++) Effect.runSync(make().pipe(Effect.provide(runtime.context)))
    const sync = performance.now() - start2
    if (round === 2) {
      console.log(
        `${name.padEnd(40)} runFork ${(inFiber * 1000 / n).toFixed(2)} µs   runSync ${(sync * 1000 / n).toFixed(2)} µs`
      )
    }
  }
}
