// The chat page of `npm start`: HTML and CSS from examples/public/, and its script, the typed Client
// bundled by examples/page.ts when this module loads, served by the same Effect HTTP server as the
// WebSocket routes. A fixed list of files: no path from a request ever reaches the file system, so
// there is no directory to traverse.
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { fileURLToPath } from "node:url"
import { buildPage } from "./page.js"

const script = buildPage().path

const file = (name: string, contentType: string) =>
  HttpServerResponse.file(name === "chat.js" ? script : fileURLToPath(new URL(`./public/${name}`, import.meta.url)), {
    // read from disk on every request, so an edited file shows on the next reload
    headers: { "content-type": contentType, "cache-control": "no-cache", "x-content-type-options": "nosniff" }
  })

export const demoPage = HttpRouter.empty.pipe(
  HttpRouter.get("/", file("index.html", "text/html; charset=utf-8")),
  HttpRouter.get("/chat.css", file("chat.css", "text/css; charset=utf-8")),
  HttpRouter.get("/chat.js", file("chat.js", "text/javascript; charset=utf-8"))
)
