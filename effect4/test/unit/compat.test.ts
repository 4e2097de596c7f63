// The assumptions the library makes of its dependencies beyond their public API
// (src/internal/node/compat/): each test fails on an installed version that breaks one.
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"
import * as WS from "ws"
import * as CompatEffect from "../../src/internal/compat/effect.js"
import * as CompatPlatform from "../../src/internal/node/compat/platform-node.js"
import * as CompatWs from "../../src/internal/node/compat/ws.js"
import {
  clientFrame,
  handshakeHeaders,
  handshakeRequest,
  portOf,
  rawConnect,
  serverCloseCode,
  statusOf,
  within
} from "../support/raw.js"
import type { App } from "../support/server.js"

/**
 * `app` served by the platform alone (`NodeHttpServer.layer`, no NodeServer) on `server`, in a scope
 * of its own: what the Node acceptor relies on, without the library in between.
 */
const platformServe = (app: App<unknown>, server: Server = createServer()) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* HttpServer.serve(app as Effect.Effect<HttpServerResponse.HttpServerResponse>).pipe(
      Layer.provideMerge(NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" })),
      Layer.buildWithScope(scope),
      Effect.orDie
    )
    return { port: portOf(context as never), server, close: Scope.close(scope, Exit.void) }
  })

/** The Node socket and request behind the platform's request. */
const nodeOf = (request: HttpServerRequest.HttpServerRequest) => {
  const incoming = NodeHttpServerRequest.toIncomingMessage(request) as IncomingMessage
  return { incoming, socket: incoming.socket as Duplex }
}

/** What the platform's route does when it takes the connection over: what `NodeTransport.accept` does. */
const takeOver = (request: HttpServerRequest.HttpServerRequest) => {
  const { socket } = nodeOf(request)
  const response = NodeHttpServerRequest.toServerResponse(request) as ServerResponse
  response.detachSocket(socket as Net.Socket)
  response.end()
  return socket
}

describe("compat", () => {
  describe("effect", () => {
    it.live("a request served by the platform has HttpEffect's request state under the key a connection leaves out", () =>
      Effect.gen(function*() {
        const seen = yield* Deferred.make<ReadonlyArray<string>>()
        const served = yield* platformServe(
          Effect.withFiber((fiber) => {
            Deferred.doneUnsafe(seen, Exit.succeed(Array.from(fiber.context.mapUnsafe.keys())))
            return Effect.succeed(HttpServerResponse.empty({ status: 204 }))
          })
        )
        const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${served.port}/`))
        assert.strictEqual(response.status, 204)
        const keys = yield* Deferred.await(seen)
        assert.include(keys, CompatEffect.requestStateKey, `the request context's keys: ${keys.join(", ")}`)
      }))
  })

  describe("ws", () => {
    it("Sender.frame builds unmasked final frames: text, binary, and the 16-bit length form", () => {
      assert.isTrue(CompatWs.framing, "the installed ws exports Sender.frame")
      assert.deepStrictEqual(CompatWs.frame(Buffer.from("hi"), false), Buffer.from([0x81, 0x02, 0x68, 0x69]))
      assert.deepStrictEqual(CompatWs.frame(Buffer.from([1, 2]), true), Buffer.from([0x82, 0x02, 1, 2]))
      const long = CompatWs.frame(Buffer.alloc(200, 7), false)
      assert.deepStrictEqual(long?.subarray(0, 4), Buffer.from([0x81, 126, 0, 200]))
      assert.strictEqual(long?.length, 204)
    })

    it.live("a WebSocket subclass receives the connection's events through emit", () =>
      Effect.gen(function*() {
        const seen: Array<string> = []
        const closed = yield* Deferred.make<void>()
        const wss = new WS.WebSocketServer({ noServer: true, WebSocket: CompatWs.Socket, autoPong: false })
        const server = createServer()
        server.on("upgrade", (request, socket, head) =>
          wss.handleUpgrade(request, socket, head, (ws) => {
            ;(ws as CompatWs.Socket).events = {
              onMessage: (data, isBinary) => seen.push(`message ${data.toString()} ${isBinary}`),
              onPing: (data) => seen.push(`ping ${data.toString()}`),
              onPong: () => seen.push("pong"),
              onError: (error) => seen.push(`error ${error.message}`),
              onClose: (code) => {
                seen.push(`close ${code}`)
                Deferred.doneUnsafe(closed, Exit.void)
              }
            }
          }))
        yield* Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void)))
        const port = (server.address() as Net.AddressInfo).port
        const client = new WS.WebSocket(`ws://127.0.0.1:${port}`)
        yield* Effect.callback<void>((resume) => void client.once("open", () => resume(Effect.void)))
        client.send("hello")
        client.ping("p")
        client.close(4000)
        yield* within("the close", Deferred.await(closed))
        server.close()
        wss.close()
        assert.deepStrictEqual(seen, ["message hello false", "ping p", "close 4000"])
      }))
  })

  describe("@effect/platform-node", () => {
    it.live("an upgrade request has the fields forgetRequest replaces, and a lazy response on its socket", () =>
      Effect.gen(function*() {
        const seen = yield* Deferred.make<{ problem: string | undefined; lazy: boolean; onSocket: boolean }>()
        const probe = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.as(
            Deferred.succeed(seen, {
              problem: CompatPlatform.unexpected(request),
              lazy: typeof (request as unknown as { readonly response: unknown }).response === "function",
              onSocket: NodeHttpServerRequest.toServerResponse(request).socket === nodeOf(request).socket
            }),
            HttpServerResponse.empty({ status: 400 })
          ))
        const server = yield* platformServe(probe)
        const raw = yield* rawConnect(server.port)
        yield* raw.write(handshakeRequest("/probe", handshakeHeaders))
        assert.deepStrictEqual(yield* within("the probe", Deferred.await(seen)), {
          problem: undefined,
          lazy: true,
          onSocket: true
        })
        assert.strictEqual(statusOf(yield* raw.readUntil((bytes) => bytes.includes("\r\n\r\n"))), 400)
      }))

    it.live("serve adds the platform's 'upgrade' listener at once: one appended after it runs after it", () =>
      Effect.gen(function*() {
        const server = createServer()
        const before = server.listenerCount("upgrade")
        yield* platformServe(Effect.succeed(HttpServerResponse.empty({ status: 400 })), server)
        assert.strictEqual(server.listenerCount("upgrade"), before + 1, "serve added one 'upgrade' listener")
      }))

    // the routes: one that takes the connection over while the platform's listener runs (it never
    // waits), one that takes it over later (it waits first), as upgradeWebSocket does after a wait
    for (const when of ["at once", "after a wait"] as const) {
      it.live(
        `the upgrade handler adds one 'error' and one 'close' listener after its once('close'); ` +
          `forgetRequest removes all three and the request's fields (taken over ${when})`,
        () =>
          Effect.gen(function*() {
            const problems: Array<string | undefined> = []
            const taken: { socket?: Duplex } = {}
            const done = yield* Deferred.make<{ errors: number; closes: number; once: boolean }>()
            const gate = yield* Deferred.make<void>()
            const check = (socket: Duplex) =>
              Deferred.doneUnsafe(
                done,
                Exit.succeed({
                  errors: socket.listenerCount("error"),
                  closes: socket.listenerCount("close"),
                  once: socket.rawListeners("close").some((listener) =>
                    typeof (listener as { listener?: unknown }).listener === "function"
                  )
                })
              )
            const route = Effect.gen(function*() {
              const request = yield* HttpServerRequest.HttpServerRequest
              if (when === "after a wait") yield* Deferred.await(gate)
              const socket = takeOver(request)
              taken.socket = socket
              problems.push(CompatPlatform.forgetRequest(request, socket))
              const fields = request as unknown as { readonly response: unknown; readonly upgradeState: unknown }
              assert.deepStrictEqual(fields.response, { writableEnded: true, headersSent: true })
              assert.isUndefined(fields.upgradeState)
              socket.write("taken over")
              if (when === "after a wait") check(socket)
              return HttpServerResponse.empty({ status: 101 })
            })
            let guardErrors = 0
            const server = createServer()
            // the library's first listener, as NodeServer's guard: an 'error' listener, then the note
            server.prependListener("upgrade", (_request: IncomingMessage, socket: Duplex) => {
              socket.on("error", () => {})
              guardErrors = socket.listenerCount("error")
              CompatPlatform.beforeUpgrade(socket)
            })
            const served = yield* platformServe(route, server)
            // the library's last listener, appended once the platform serves
            server.on("upgrade", (_request: IncomingMessage, socket: Duplex) => {
              problems.push(CompatPlatform.afterUpgrade(socket))
              if (when === "at once") check(socket)
              else Deferred.doneUnsafe(gate, Exit.void)
            })
            const raw = yield* rawConnect(served.port)
            yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
            const listeners = yield* within("the take-over", Deferred.await(done))
            assert.deepStrictEqual(problems, [undefined, undefined])
            // left: the guard's 'error' listener; the platform's tracking once('close') is gone too
            assert.deepStrictEqual(listeners, { errors: guardErrors, closes: 0, once: false })
            const received = yield* raw.readUntil((bytes) => bytes.includes("taken over"))
            assert.strictEqual(received.toString("latin1"), "taken over", "the platform wrote nothing")
            // out of the platform's set of upgraded sockets, the socket is no longer ended by its shutdown:
            // whoever took it over closes it (the library's connections do, before the platform's finalizer)
            taken.socket?.destroy()
          })
      )
    }

    it.live("the platform attaches an 'error' and a 'close' listener to every upgrade socket it dispatches", () =>
      Effect.gen(function*() {
        const seen = yield* Deferred.make<{ errors: number; closes: number; problem: string | undefined }>()
        const server = createServer()
        server.prependListener("upgrade", (_request: IncomingMessage, socket: Duplex) => {
          CompatPlatform.beforeUpgrade(socket)
        })
        const served = yield* platformServe(
          Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
            takeOver(request)
            return HttpServerResponse.empty({ status: 101 })
          }),
          server
        )
        server.on("upgrade", (_request: IncomingMessage, socket: Duplex) => {
          Deferred.doneUnsafe(
            seen,
            Exit.succeed({
              errors: socket.listenerCount("error"),
              closes: socket.listenerCount("close"),
              // not upgraded by the library: kept for a later forgetRequest, nothing to say
              problem: CompatPlatform.afterUpgrade(socket)
            })
          )
        })
        const raw = yield* rawConnect(served.port)
        yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
        assert.deepStrictEqual(yield* within("the upgrade", Deferred.await(seen)), {
          errors: 1,
          closes: 2,
          problem: undefined
        })
      }))

    it.live("the platform hands the bytes after the handshake to the 'upgrade' listeners only, not to the socket", () =>
      Effect.gen(function*() {
        const seen = yield* Deferred.make<{ head: number; buffered: number }>()
        let head = 0
        const server = createServer()
        server.prependListener("upgrade", (_request: IncomingMessage, _socket: Duplex, bytes: Buffer) => {
          head = bytes.length
        })
        const served = yield* platformServe(
          Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
            const socket = takeOver(request)
            Deferred.doneUnsafe(seen, Exit.succeed({ head, buffered: socket.readableLength }))
            return HttpServerResponse.empty({ status: 101 })
          }),
          server
        )
        const frame = clientFrame(0x1, Buffer.from("sent with the handshake"))
        const raw = yield* rawConnect(served.port)
        yield* raw.write(Buffer.concat([Buffer.from(handshakeRequest("/ws", handshakeHeaders)), frame]))
        assert.deepStrictEqual(yield* within("the upgrade", Deferred.await(seen)), { head: frame.length, buffered: 0 })
      }))

    it.live("the platform's serve finalizer ends upgraded sockets, after the finalizers added after serve", () =>
      Effect.gen(function*() {
        const taken = yield* Deferred.make<Duplex>()
        const app = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
          const socket = takeOver(request)
          socket.write("taken over")
          Deferred.doneUnsafe(taken, Exit.succeed(socket))
          return HttpServerResponse.empty({ status: 101 })
        })
        const events: Array<string> = []
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        // a serve layer whose scope gets a finalizer after the platform's, as NodeServer's serve adds
        const serving = Layer.effectDiscard(Effect.gen(function*() {
          const server = yield* HttpServer.HttpServer
          yield* server.serve(app)
          yield* Effect.addFinalizer(() =>
            Effect.map(Deferred.await(taken), (socket) => {
              events.push(`the later finalizer: socket ended=${socket.writableEnded}`)
            })
          )
        }))
        const context = yield* serving.pipe(
          Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
          Layer.buildWithScope(scope),
          Effect.orDie
        )
        const raw = yield* rawConnect(portOf(context as never))
        yield* raw.write(handshakeRequest("/ws", handshakeHeaders))
        const socket = yield* within("the take-over", Deferred.await(taken))
        yield* raw.readUntil((bytes) => bytes.includes("taken over"))
        socket.once("finish", () => events.push("the platform ended the socket"))
        yield* Scope.close(scope, Exit.void)
        const received = yield* raw.ended
        assert.deepStrictEqual(events, ["the later finalizer: socket ended=false", "the platform ended the socket"])
        assert.strictEqual(received.toString("latin1"), "taken over", "ended without a close frame")
        assert.isUndefined(serverCloseCode(Buffer.concat([Buffer.from("\r\n\r\n"), received])))
      }))
  })
})
