// The chat page of `npm start`: plain HTML, CSS and JavaScript from examples/public/, served by the
// same Effect HTTP server as the WebSocket routes. A fixed list of files: no path from a request ever
// reaches the file system, so there is no directory to traverse.
import { HttpRouter, HttpServerResponse } from "effect/http"
import { fileURLToPath } from "node:url"

const file = (name: string, contentType: string) =>
  HttpServerResponse.file(fileURLToPath(new URL(`./public/${name}`, import.meta.url)), {
    contentType,
    // read from disk on every request, so an edited file shows on the next reload
    headers: { "cache-control": "no-cache", "x-content-type-options": "nosniff" }
  })

export const DemoPageRoutes = HttpRouter.addAll([
  HttpRouter.route("GET", "/", file("index.html", "text/html; charset=utf-8")),
  HttpRouter.route("GET", "/chat.css", file("chat.css", "text/css; charset=utf-8")),
  HttpRouter.route("GET", "/chat.js", file("chat.js", "text/javascript; charset=utf-8"))
])
