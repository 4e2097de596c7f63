// @effect/platform's own upgrade and Socket.runRaw echo.
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { runEchoServer } from "./run.js"

const echo = Effect.gen(function*() {
  const socket = yield* HttpServerRequest.upgrade
  const write = yield* socket.writer
  yield* socket.runRaw((data) => write(data))
  return HttpServerResponse.empty()
}).pipe(Effect.scoped, Effect.orDie)

runEchoServer(echo)
