/**
 * What the library assumes of `effect` (4.1) beyond its public API, in one place, each with a test that
 * fails on an installed version that breaks it (test/unit/compat.test.ts).
 *
 * `effect/http`'s `HttpEffect` runs every request with its request state in the context, under a key
 * the package does not export: the request's frame, which holds the whole context the request started
 * with. A connection's context leaves it out (internal/upgrade.ts): kept, it would keep the request's
 * state for as long as the connection lives. Should the key change, the state is kept again (more
 * memory per connection, nothing else) and the compat test fails.
 */
export const requestStateKey = "effect/http/HttpEffect/CurrentRequestState"
