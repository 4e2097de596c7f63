// The chat page of `npm start`: joins a room of examples/chat-room.ts with the library's typed Client
// and the room's protocol (examples/chat-protocol.ts), imported as the server imports them. The Client
// reconnects (0.5 s doubling to 5 s, with jitter, after 1001/1006/1011/1012/1013), notices a dead
// server by its heartbeat, and decodes every message; the page renders its state and the messages.
// Bundled for the browser by examples/page.ts (esbuild) when the server starts, served as /chat.js.
// Everything shown comes from other people, so it is rendered with textContent, never as HTML.
import * as Client from "effect-websocket/Client"
import type * as Protocol from "effect-websocket/Protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ChatProtocol } from "../chat-protocol.js"

type Out = Protocol.Outgoing<typeof ChatProtocol>
type In = Protocol.Incoming<typeof ChatProtocol>
type Entries = ReadonlyArray<{ readonly ref: string; readonly meta: { readonly user: string } }>

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E
const view = {
  status: $("status"),
  reconnect: $<HTMLButtonElement>("reconnect"),
  join: $<HTMLFormElement>("join"),
  name: $<HTMLInputElement>("name"),
  room: $<HTMLInputElement>("room"),
  chat: $("chat"),
  log: $("log"),
  typing: $("typing"),
  say: $<HTMLFormElement>("say"),
  text: $<HTMLInputElement>("text"),
  send: $<HTMLButtonElement>("send"),
  roomName: $("room-name"),
  members: $("members"),
  leave: $<HTMLButtonElement>("leave")
}

const meanings: Record<number, string> = {
  1000: "normal closure",
  1001: "going away",
  1002: "protocol error",
  1003: "unsupported data",
  1005: "no code",
  1006: "connection lost",
  1007: "invalid message",
  1008: "policy violation",
  1009: "message too big",
  1011: "server error",
  1012: "service restart",
  1013: "try again later",
  4000: "heartbeat timeout"
}
const typingShownFor = 3000
const typingSentEvery = 2000
const logLimit = 500

/** The page's connection while it is in a room: the client and the scope that closes it. */
let session: { readonly user: string; readonly room: string; readonly scope: Scope.CloseableScope } | null = null
let client: Client.Client<In, Out> | null = null
let me: string | null = null // the name the server welcomed us with
let lastTyping = 0
// who is in the room: the last presence_state and the diffs that followed it, in order, or null while
// there is none (not connected yet, or a diff was missed); user -> Map(ref -> meta), one ref per tab
let presence: { stream: string; seq: number; members: Map<string, Map<string, unknown>> } | null = null
let syncing = false
const typing = new Map<string, ReturnType<typeof setTimeout>>() // user -> timer that hides the indicator

const setStatus = (state: string, text: string) => {
  view.status.dataset.state = state
  view.status.textContent = text
}

const describeClose = ({ code, reason }: { readonly code: number; readonly reason: string }) => {
  const meaning = meanings[code] ?? "unknown code"
  return reason === "" || reason === meaning ? `${code} ${meaning}` : `${code} ${meaning}: "${reason}"`
}

const append = (className: string, ...parts: Array<string | Node>) => {
  const item = document.createElement("li")
  item.className = className
  item.append(...parts)
  view.log.append(item)
  while (view.log.childElementCount > logLimit) view.log.firstElementChild?.remove()
  view.log.scrollTop = view.log.scrollHeight
}

const note = (text: string) => append("notice", text)

const said = (user: string, text: string) => {
  const who = document.createElement("span")
  who.className = "who"
  who.textContent = user
  const what = document.createElement("span")
  what.className = "text"
  what.textContent = text
  append(user === me ? "said mine" : "said", who, " ", what)
}

const renderMembers = () => {
  const users = presence === null ? [] : [...presence.members.keys()].sort()
  view.members.replaceChildren(
    ...users.map((user) => {
      const item = document.createElement("li")
      item.textContent = user
      item.dataset.user = user
      if (user === me) item.className = "me"
      return item
    })
  )
}

const renderTyping = () => {
  const users = [...typing.keys()]
  view.typing.textContent = users.length === 0
    ? ""
    : users.length === 1
    ? `${users[0]} is typing…`
    : users.length === 2
    ? `${users[0]} and ${users[1]} are typing…`
    : "several people are typing…"
}

const stopTyping = (user: string) => {
  clearTimeout(typing.get(user))
  typing.delete(user)
  renderTyping()
}

const startTyping = (user: string) => {
  clearTimeout(typing.get(user))
  typing.set(user, setTimeout(() => stopTyping(user), typingShownFor))
  renderTyping()
}

const entriesOf = (presences: Readonly<Record<string, Entries>>) =>
  new Map(Object.entries(presences).map(([user, entries]) => [user, new Map(entries.map((e) => [e.ref, e.meta]))]))

/** Sends when connected; the Client refuses while disconnected (no buffer), and the page drops it. */
const send = (message: In) => {
  if (client !== null) Effect.runFork(Effect.ignore(client.send(message)))
}

// the room's members now, and the position (stream, seq) its next diff follows
const presenceState = (message: Extract<Out, { type: "presence_state" }>) => {
  syncing = false
  presence = { stream: message.stream, seq: message.seq, members: entriesOf(message.presences) }
  renderMembers()
}

// a diff applies only right after the state or the diff before it: an older one is already in; after
// a gap (a diff dropped on the way) or from another stream the page asks for the state again ("sync")
// and ignores diffs until it comes: a list with a missed leave would show someone gone forever
const presenceDiff = (message: Extract<Out, { type: "presence_diff" }>) => {
  // the state comes first on every connection; an older diff of its stream is in it already
  if (presence === null || (message.stream === presence.stream && message.seq <= presence.seq)) return
  if (message.stream !== presence.stream || message.seq !== presence.seq + 1) {
    if (!syncing) {
      syncing = true
      send({ type: "sync" })
    }
    return
  }
  presence.seq = message.seq
  const members = presence.members
  const before = new Set(members.keys())
  // leaves first: a meta update is a leave of the old meta and a join of the new one, with the same ref
  for (const [user, entries] of Object.entries(message.leaves)) {
    const refs = members.get(user)
    if (refs === undefined) continue
    for (const entry of entries) refs.delete(entry.ref)
    if (refs.size === 0) members.delete(user)
  }
  for (const [user, entries] of Object.entries(message.joins)) {
    const refs = members.get(user) ?? new Map<string, unknown>()
    for (const entry of entries) refs.set(entry.ref, entry.meta)
    members.set(user, refs)
  }
  // a user with another tab open is still here: only the first tab's join and the last one's leave show
  for (const user of Object.keys(message.joins)) {
    if (!before.has(user) && members.has(user) && user !== me) note(`${user} joined`)
  }
  for (const user of Object.keys(message.leaves)) {
    if (before.has(user) && !members.has(user)) {
      stopTyping(user)
      note(`${user} left`)
    }
  }
  renderMembers()
}

const receive = (message: Out) => {
  switch (message.type) {
    case "welcome":
      me = message.user
      setStatus("open", `open: ${message.room} as ${me}`)
      note(`you joined ${message.room} as ${me} (server process ${message.server})`)
      break
    case "presence_state":
      presenceState(message)
      break
    case "presence_diff":
      presenceDiff(message)
      break
    case "said":
      stopTyping(message.user)
      said(message.user, message.text)
      break
    case "typing":
      startTyping(message.user)
      break
    case "notice":
      note(message.text)
      break
  }
}

/** The connection ended (for now, or for good): what the page knew of the room is stale. */
const disconnected = (close: { readonly code: number; readonly reason: string }) => {
  view.send.disabled = true
  for (const user of [...typing.keys()]) stopTyping(user)
  // who is there is unknown until the next connection's presence_state
  presence = null
  renderMembers()
  note(`disconnected: ${describeClose(close)}`)
}

/** What the page shows for each state of the Client. */
const show = (room: string) => {
  let wasOpen = false
  return (state: Client.State) => {
    switch (state._tag) {
      case "Connecting":
        setStatus("connecting", `connecting to ${room}…`)
        return
      case "Open":
        wasOpen = true
        view.send.disabled = false
        // the welcome message names the user; until it comes
        if (me === null) setStatus("open", `open: ${room}`)
        return
      case "Reconnecting": {
        if (wasOpen) disconnected(state)
        wasOpen = false
        const seconds = (Duration.toMillis(state.delay) / 1000).toFixed(1)
        setStatus("closed", `closed ${describeClose(state)}: reconnecting in ${seconds} s`)
        return
      }
      case "Closed":
        if (wasOpen) disconnected(state)
        wasOpen = false
        setStatus("closed", `closed ${describeClose(state)}: not reconnecting, press Reconnect to try again`)
        view.reconnect.hidden = false
        return
    }
  }
}

/**
 * Connects to the session's room: a Client in the session's scope, its state and messages rendered
 * while the session is the page's own (after Leave or Reconnect, the old client's last state, its
 * close for good, is not shown).
 */
const connect = (user: string, room: string) => {
  const current = { user, room, scope: Effect.runSync(Scope.make()) }
  session = current
  view.reconnect.hidden = true
  me = null
  // same host and port as the page, wss: when the page came over https:, so it works behind TLS
  const scheme = location.protocol === "https:" ? "wss:" : "ws:"
  const url = `${scheme}//${location.host}/rooms/${encodeURIComponent(room)}?user=${encodeURIComponent(user)}`
  const whileCurrent = <A>(f: (a: A) => void) => (a: A) =>
    Effect.sync(() => {
      if (session === current) f(a)
    })
  const program = Effect.gen(function*() {
    const made = yield* Client.make(ChatProtocol, url)
    if (session === current) client = made
    yield* Effect.forkScoped(Stream.runForEach(made.state.changes, whileCurrent(show(room))))
    yield* Effect.forkScoped(Stream.runForEach(made.messages, whileCurrent(receive)))
  })
  Effect.runFork(Scope.extend(program, current.scope))
}

/** Leaves the room: the client closes with 1000 "left", and nothing of it renders any more. */
const disconnect = (code?: number, reason?: string) => {
  const current = session
  if (current === null) return
  session = null
  const closing = client
  client = null
  Effect.runFork(
    Effect.zipRight(
      closing === null ? Effect.void : Effect.ignore(closing.close(code, reason)),
      Scope.close(current.scope, Exit.void)
    )
  )
}

view.join.addEventListener("submit", (event) => {
  event.preventDefault()
  const user = view.name.value.trim()
  const room = view.room.value.trim()
  try {
    localStorage.setItem("chat.name", user)
  } catch {
    // storage may be disabled; the name is only a convenience for next time
  }
  history.replaceState(null, "", `#${encodeURIComponent(room)}`)
  presence = null
  renderMembers()
  view.log.replaceChildren()
  view.roomName.textContent = room
  view.join.hidden = true
  view.chat.hidden = false
  connect(user, room)
  view.text.focus()
})

view.say.addEventListener("submit", (event) => {
  event.preventDefault()
  const text = view.text.value
  if (text.trim() === "") return
  // the protocol's schema is the server's: a message it refuses is not sent, and the page says why
  if (client !== null) {
    Effect.runFork(
      client.send({ type: "say", text }).pipe(
        Effect.catchTag("EncodeError", () => Effect.sync(() => note("not sent: a message is 1 to 2,000 characters"))),
        Effect.ignore
      )
    )
  }
  view.text.value = ""
  lastTyping = 0
})

view.text.addEventListener("input", () => {
  if (view.text.value === "" || Date.now() - lastTyping < typingSentEvery) return
  lastTyping = Date.now()
  send({ type: "typing" })
})

view.reconnect.addEventListener("click", () => {
  const current = session
  if (current === null) return
  disconnect()
  connect(current.user, current.room)
})

view.leave.addEventListener("click", () => {
  disconnect(1000, "left")
  view.reconnect.hidden = true
  view.chat.hidden = true
  view.join.hidden = false
  setStatus("idle", "not connected")
})

// the last name used, and the room of a shared link (`/#kitchen`)
try {
  view.name.value = localStorage.getItem("chat.name") ?? ""
  if (location.hash.length > 1) view.room.value = decodeURIComponent(location.hash.slice(1))
} catch {
  // storage disabled or a malformed link: the fields keep their defaults
}
