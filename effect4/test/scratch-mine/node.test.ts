import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"
import WebSocket from "ws"
import { collected } from "../support/gc.js"
import { Acceptor, AcceptorImpl } from "../../src/internal/acceptor.js"
import { NodeServer } from "../../src/node.js"
import { portOf } from "../support/raw.js"

const wire = { maxMessageSize: 1 << 20, compression: false as const }

describe("scratch", () => {
  for (const wait of [false, true]) {
    it.live(`echo + shutdown 1001 + fiber collected (wait=${wait})`, () =>
      Effect.gen(function*() {
        let fiberRef: WeakRef<object> | undefined
        const app = Effect.gen(function*() {
          if (wait) yield* Effect.sleep(20)
          const request = yield* HttpServerRequest.HttpServerRequest
          const acceptor = (yield* Acceptor) as AcceptorImpl
          yield* Effect.withFiber((fiber) => { fiberRef = new WeakRef(fiber); return Effect.void })
          let transport: any
          const t = acceptor.accept(request, { protocol: undefined, headers: {}, wire }, (tr) => {
            transport = tr
            return {
              push: (item: any) => {
                if (item._tag === "TextMessage") tr.sendText(item.text)
              },
              pong: () => {}
            }
          })
          assert.isObject(t)
          const open = {
            request,
            shutdown: () => Effect.suspend(() => { transport.close(1001, ""); return transport.awaitClosed })
          }
          acceptor.add(open)
          return HttpServerResponse.empty({ status: 101 })
        })
        const scope = yield* Scope.make()
        const ctx = yield* HttpServer.serve(app as any).pipe(
          Layer.provideMerge(NodeServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
          Layer.buildWithScope(scope)
        )
        const port = portOf(ctx as any)
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`)
        const closed = new Promise<number>((r) => ws.on("close", (c) => r(c)))
        yield* Effect.promise(() => new Promise((r) => ws.once("open", r)))
        ws.send("hi")
        const msg = yield* Effect.promise(() => new Promise<string>((r) => ws.once("message", (d) => r(String(d)))))
        assert.strictEqual(msg, "hi")
        assert.isTrue(yield* Effect.promise(() => collected(fiberRef!)))
        ws.send("again")
        const msg2 = yield* Effect.promise(() => new Promise<string>((r) => ws.once("message", (d) => r(String(d)))))
        assert.strictEqual(msg2, "again")
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(yield* Effect.promise(() => closed), 1001)
      }))
  }
})
