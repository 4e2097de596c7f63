/**
 * Which pages may open a connection: the `Origin` check of the handshake, against cross-site
 * WebSocket hijacking (a browser sends the site's cookies with a handshake from any page, and no CORS
 * applies to it).
 */

/**
 * `SameOrigin` (the default): pages served from the host and port the request was sent to.
 * `Any`: every origin (`allowedOrigins: "*"`). `Allowed`: the user's list or predicate.
 */
export type OriginPolicy =
  | { readonly _tag: "SameOrigin" }
  | { readonly _tag: "Any" }
  | { readonly _tag: "Allowed"; readonly allows: (origin: string | undefined) => boolean }

export const sameOrigin: OriginPolicy = { _tag: "SameOrigin" }
export const any: OriginPolicy = { _tag: "Any" }

/** Characters a Host header never holds; with one, the header names no host this server can compare. */
const notAHost = /[\s/?#@\\]/

/**
 * The `host[:port]` an http or https origin names, lower-case and without its scheme's default port;
 * `undefined` for another scheme (`file:`, an extension), `null` or anything malformed.
 */
export const hostOfOrigin = (origin: string): string | undefined => {
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return undefined
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.host : undefined
}

/**
 * The `host[:port]` of a Host header, lower-case and without a port of 80 or 443: whether the page
 * was served over http or https, the comparison is of host and port only (a proxy may have ended
 * TLS before the request got here).
 */
export const hostOfRequest = (host: string | undefined): string | undefined => {
  if (host === undefined || host === "" || notAHost.test(host)) return undefined
  let url: URL
  try {
    url = new URL(`http://${host}`)
  } catch {
    return undefined
  }
  return url.port === "443" ? url.hostname : url.host
}

/** Whether a page from `origin` may open a connection through a request to `host` (its Host header). */
export const allows = (policy: OriginPolicy, origin: string | undefined, host: string | undefined): boolean => {
  switch (policy._tag) {
    case "Any":
      return true
    case "Allowed":
      return policy.allows(origin)
    case "SameOrigin": {
      // a request without Origin does not come from a browser page, which is what this guards against
      if (origin === undefined) return true
      const expected = hostOfRequest(host)
      return expected !== undefined && hostOfOrigin(origin) === expected
    }
  }
}
