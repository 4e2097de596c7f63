/**
 * `NodeServer` as the package's root exported it before the Node entry: the same functions, which
 * load the Node server (`ws`, @effect/platform-node) only when their Layer is built, so that the
 * root stays runtime-neutral. Deprecated: `import { NodeServer } from "effect-websocket/node"`.
 */
import type * as HttpServerError from "@effect/platform/HttpServerError"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import type { LazyArg } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as Http from "node:http"
import type * as Net from "node:net"
import type * as NodeServer from "../NodeServer.js"

/** The Node server module, loaded on first use. */
const load = Effect.promise(() => import("../NodeServer.js"))

/**
 * The services a server Layer provides.
 *
 * @deprecated import `NodeServer` from `effect-websocket/node`
 * @since 0.1.0
 */
export type Services = NodeServer.Services

/**
 * `NodeServer.layer`, loaded when the Layer is built.
 *
 * @deprecated import `NodeServer` from `effect-websocket/node`
 * @since 0.1.0
 */
export const layer = (
  evaluate: LazyArg<Http.Server>,
  options: Net.ListenOptions
): Layer.Layer<Services, HttpServerError.ServeError> =>
  Layer.unwrapEffect(Effect.map(load, (module) => module.layer(evaluate, options)))

/**
 * `NodeServer.layerConfig`, loaded when the Layer is built.
 *
 * @deprecated import `NodeServer` from `effect-websocket/node`
 * @since 0.1.0
 */
export const layerConfig = (
  evaluate: LazyArg<Http.Server>,
  options: Config.Config.Wrap<Net.ListenOptions>
): Layer.Layer<Services, HttpServerError.ServeError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(load, (module) => module.layerConfig(evaluate, options)))
