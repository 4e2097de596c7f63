// The chat page of `npm start`: HTML and CSS from examples/public/, and its script bundled by the
// root's examples/page.ts when this module loads, served by the same Effect HTTP server as the
// WebSocket routes. The page's script is the root package's Client (Effect 3) in the browser: the wire
// protocol is the same, so it talks to this Effect 4 server as to the Effect 3 one. A fixed list of
// files: no path from a request ever reaches the file system, so there is no directory to traverse.
import { HttpRouter, HttpServerResponse } from "effect/http"
import { fileURLToPath } from "node:url"
import { buildPage } from "../../examples/page.js"

const script = buildPage().path

const file = (name: string, contentType: string) =>
  HttpServerResponse.file(name === "chat.js" ? script : fileURLToPath(new URL(`./public/${name}`, import.meta.url)), {
    contentType,
    // read from disk on every request, so an edited file shows on the next reload
    headers: { "cache-control": "no-cache", "x-content-type-options": "nosniff" }
  })

export const DemoPageRoutes = HttpRouter.addAll([
  HttpRouter.route("GET", "/", file("index.html", "text/html; charset=utf-8")),
  HttpRouter.route("GET", "/chat.css", file("chat.css", "text/css; charset=utf-8")),
  HttpRouter.route("GET", "/chat.js", file("chat.js", "text/javascript; charset=utf-8"))
])
