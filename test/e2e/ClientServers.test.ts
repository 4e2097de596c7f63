// The typed Client against real servers on real sockets (127.0.0.1): Node 20 through `ws`, a restart
// on the same port, a dead server that sends no close, and Node 22's global WebSocket in a child process.
import { HttpRouter, HttpServer } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Schema, Scope, Stream } from "effect"
import { Action, Client, Protocol, Upgrade } from "effect-websocket"
import { NodeServer } from "effect-websocket/node"
import { execFile } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"

/** The Node 22 binary (installed into .tools/ on first use), from the script the Effect 4 line runs on. */
const node22Script: string = "../../scripts/node22.mjs"
const { node22 } = (await import(node22Script)) as { readonly node22: () => string }

const Echo = Protocol.json({
  incoming: Schema.Struct({ text: Schema.String }),
  outgoing: Schema.Struct({ echoed: Schema.String }),
  requests: {
    double: { payload: Schema.Number, success: Schema.Number, failure: Schema.Struct({ tooBig: Schema.Number }) },
    // answered only when `release` is told: a request in flight across a restart
    hold: { payload: Schema.Void, success: Schema.Void }
  },
  serverRequests: { whoAreYou: { payload: Schema.Void, success: Schema.String } }
})

const echo = Protocol.upgradeWebSocket(Echo, {
  onInit: () => Effect.succeed(Upgrade.initial(null)),
  onMessage: (state, message, connection) =>
    Effect.gen(function*() {
      if (message._tag === "Decoded") {
        const text = message.value.text === "who"
          ? `you are ${yield* Protocol.request(connection, "whoAreYou", undefined, { timeout: "2 seconds" })}`
          : message.value.text
        yield* Protocol.send(connection, { echoed: text })
      } else if (message._tag === "Request" && message.name === "double") {
        const n = message.payload
        yield* Protocol.reply(connection, message, n > 1000 ? Effect.fail({ tooBig: n }) : Effect.succeed(n * 2))
      }
      return Action.continueConnection(state)
    }).pipe(Effect.orDie),
  onClose: () => Effect.void
})

/** The echo route served on `port` (0: any) in a scope of its own; `stop` is its graceful shutdown (1001). */
const start = (port: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* HttpServer.serve(HttpRouter.empty.pipe(HttpRouter.get("/echo", echo))).pipe(
      Layer.provideMerge(NodeServer.layer(() => createServer(), { port, host: "127.0.0.1" })),
      Layer.buildWithScope(scope),
      Effect.orDie
    )
    const server = context.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer
    return {
      port: (server.address as { readonly port: number }).port,
      stop: Scope.close(scope, Exit.void)
    }
  })

const until = <A>(client: Client.Client<any, any, any>, tag: Client.State["_tag"]) =>
  Stream.runHead(Stream.filter(client.state.changes, (state) => state._tag === tag)).pipe(
    Effect.map(Option.getOrThrow),
    Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error(`the client never reached ${tag}`) })
  ) as Effect.Effect<A, Error>

const fast = { initial: "30 millis", max: "100 millis" } as const

describe("Client against real servers", () => {
  it.live("Node 20 with ws: a typed round trip, requests both ways, a typed failure", () =>
    Effect.gen(function*() {
      const server = yield* start(0)
      yield* Effect.addFinalizer(() => server.stop)
      const client = yield* Client.make(Echo, `ws://127.0.0.1:${server.port}/echo`, {
        webSocket: WebSocket,
        onRequest: { whoAreYou: () => Effect.succeed("node 20") }
      })
      yield* client.awaitOpen
      yield* client.send({ text: "hello" })
      yield* client.send({ text: "who" })
      assert.strictEqual(yield* client.request("double", 21), 42)
      const refused = yield* Effect.flip(client.request("double", 5000))
      assert.deepStrictEqual(refused, { tooBig: 5000 })
      const echoed = yield* Stream.runCollect(Stream.take(client.messages, 2))
      assert.deepStrictEqual([...echoed], [{ echoed: "hello" }, { echoed: "you are node 20" }])
    }).pipe(Effect.scoped))

  it.live("a server restart on the same port (1001): the client reconnects, joins again, and a request in flight fails Closed", () =>
    Effect.gen(function*() {
      let server = yield* start(0)
      const port = server.port
      let joins = 0
      const client = yield* Client.make(Echo, `ws://127.0.0.1:${port}/echo`, {
        webSocket: WebSocket,
        reconnect: fast,
        onConnect: (client) =>
          Effect.zipRight(Effect.orDie(client.request("double", 1)), Effect.sync(() => void joins++))
      })
      yield* client.awaitOpen
      assert.strictEqual(joins, 1)
      const inFlight = yield* Effect.fork(Effect.flip(client.request("hold", undefined, { timeout: "5 seconds" })))
      yield* server.stop // graceful shutdown: 1001 to every connection
      const error = yield* inFlight.await.pipe(Effect.flatMap((exit) => exit))
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual((error as Client.RequestError).reason, "Closed")
      const waiting = yield* until<Extract<Client.State, { _tag: "Reconnecting" }>>(client, "Reconnecting")
      assert.strictEqual(waiting.code, 1001)
      server = yield* start(port)
      yield* Effect.addFinalizer(() => server.stop)
      yield* until(client, "Open")
      assert.strictEqual(joins, 2)
      yield* client.send({ text: "after the restart" })
      assert.deepStrictEqual(yield* Stream.runHead(client.messages), Option.some({ echoed: "after the restart" }))
    }).pipe(Effect.scoped))

  it.live("a server that never answers (no close, no heartbeat reply): the client drops it with 4000 within two intervals", () =>
    Effect.gen(function*() {
      // a WebSocket server that accepts and then ignores everything: a dead peer behind a live TCP socket
      const silent = yield* Effect.acquireRelease(
        Effect.async<WebSocketServer>((resume) => {
          const wss: WebSocketServer = new WebSocketServer(
            { host: "127.0.0.1", port: 0 },
            () => resume(Effect.succeed(wss))
          )
        }),
        (wss) =>
          Effect.async<void>((resume) => {
            for (const socket of wss.clients) socket.terminate()
            wss.close(() => resume(Effect.void))
          })
      )
      const port = (silent.address() as AddressInfo).port
      const client = yield* Client.make(Echo, `ws://127.0.0.1:${port}/`, {
        webSocket: WebSocket,
        heartbeat: "150 millis",
        reconnect: { ...fast, retryOn: [] } // stop at the first close, to read its code
      })
      yield* client.awaitOpen
      const opened = Date.now()
      const state = yield* until<Extract<Client.State, { _tag: "Closed" }>>(client, "Closed")
      assert.strictEqual(state.code, 4000)
      assert.strictEqual(state.reason, "heartbeat timeout")
      // the first heartbeat goes out after one interval, its answer is due by the second
      assert.isBelow(Date.now() - opened, 1500)
    }).pipe(Effect.scoped))

  it.live("Node 22's global WebSocket: the same client with no webSocket option", () =>
    Effect.gen(function*() {
      const server = yield* start(0)
      yield* Effect.addFinalizer(() => server.stop)
      const output = yield* Effect.async<string, Error>((resume) => {
        const child = execFile(
          node22(),
          ["--import", "tsx", "test/fixtures/client-node22.ts", `ws://127.0.0.1:${server.port}/echo`],
          { timeout: 20_000 },
          (error, stdout, stderr) =>
            resume(error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.succeed(stdout))
        )
        return Effect.sync(() => child.kill("SIGKILL"))
      })
      const result = JSON.parse(output.trim().split("\n").at(-1)!)
      assert.isTrue(Number(result.node.split(".")[0]) >= 22, result.node)
      assert.strictEqual(result.global, "function")
      assert.deepStrictEqual(result.echoed, { _id: "Option", _tag: "Some", value: { echoed: "from node 22" } })
      assert.strictEqual(result.doubled, 42)
      assert.strictEqual(result.state, "Open")
    }).pipe(Effect.scoped), 30_000)
})
