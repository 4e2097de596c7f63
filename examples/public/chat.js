// The chat page of `npm start`: joins a room of examples/chat-room.ts over a WebSocket and speaks its
// JSON protocol (in: say, typing, sync; out: welcome, said, typing, notice, and the room's presence frames:
// presence_state, who is there when the page joins, then a presence_diff for every join and leave).
// Everything shown comes from other people, so it is rendered with textContent, never as HTML.
"use strict"

const $ = (id) => document.getElementById(id)
const view = {
  status: $("status"),
  reconnect: $("reconnect"),
  join: $("join"),
  name: $("name"),
  room: $("room"),
  chat: $("chat"),
  log: $("log"),
  typing: $("typing"),
  say: $("say"),
  text: $("text"),
  send: $("send"),
  roomName: $("room-name"),
  members: $("members"),
  leave: $("leave")
}

// Closes after which trying again can help: the server went away (1001, a restart), the connection
// was lost or refused (1006), the server failed (1011), restarts (1012) or is busy (1013). After the
// others (1008 policy, 1009 too big, 1007 invalid message) the same thing would happen again.
const retryable = new Set([1001, 1006, 1011, 1012, 1013])
const meanings = {
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
  1013: "try again later"
}
const firstDelay = 500
const maxDelay = 5000
const typingShownFor = 3000
const typingSentEvery = 2000
const logLimit = 500

let session = null // { user, room } while the page is in a room, whether connected or not
let socket = null
let me = null // the name the server welcomed us with
let attempt = 0
let retry = null
let lastTyping = 0
// who is in the room: the last presence_state and the diffs that followed it, in order, or null while
// there is none (not connected yet, or a diff was missed); user -> Map(ref -> meta), one ref per tab
let presence = null
const typing = new Map() // user -> timer that hides the indicator

const setStatus = (state, text) => {
  view.status.dataset.state = state
  view.status.textContent = text
}

const describeClose = ({ code, reason }) => {
  const meaning = meanings[code] ?? "unknown code"
  return reason === "" || reason === meaning ? `${code} ${meaning}` : `${code} ${meaning}: "${reason}"`
}

const append = (className, ...parts) => {
  const item = document.createElement("li")
  item.className = className
  item.append(...parts)
  view.log.append(item)
  while (view.log.childElementCount > logLimit) view.log.firstElementChild.remove()
  view.log.scrollTop = view.log.scrollHeight
}

const note = (text) => append("notice", text)

const said = (user, text) => {
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

const stopTyping = (user) => {
  clearTimeout(typing.get(user))
  typing.delete(user)
  renderTyping()
}

const startTyping = (user) => {
  clearTimeout(typing.get(user))
  typing.set(user, setTimeout(() => stopTyping(user), typingShownFor))
  renderTyping()
}

const entriesOf = (presences) =>
  new Map(Object.entries(presences).map(([user, entries]) => [user, new Map(entries.map((e) => [e.ref, e.meta]))]))

// the room's members now, and the position (stream, seq) its next diff follows
const presenceState = (message) => {
  syncing = false
  presence = { stream: message.stream, seq: message.seq, members: entriesOf(message.presences) }
  renderMembers()
}

// a diff applies only right after the state or the diff before it: an older one is already in; after
// a gap (a diff dropped on the way) or from another stream the page asks for the state again ("sync")
// and ignores diffs until it comes: a list with a missed leave would show someone gone forever
let syncing = false
const presenceDiff = (message) => {
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
  const before = new Set(presence.members.keys())
  // leaves first: a meta update is a leave of the old meta and a join of the new one, with the same ref
  for (const [user, entries] of Object.entries(message.leaves)) {
    const refs = presence.members.get(user)
    if (refs === undefined) continue
    for (const entry of entries) refs.delete(entry.ref)
    if (refs.size === 0) presence.members.delete(user)
  }
  for (const [user, entries] of Object.entries(message.joins)) {
    const refs = presence.members.get(user) ?? new Map()
    for (const entry of entries) refs.set(entry.ref, entry.meta)
    presence.members.set(user, refs)
  }
  // a user with another tab open is still here: only the first tab's join and the last one's leave show
  for (const user of Object.keys(message.joins)) {
    if (!before.has(user) && presence.members.has(user) && user !== me) note(`${user} joined`)
  }
  for (const user of Object.keys(message.leaves)) {
    if (before.has(user) && !presence.members.has(user)) {
      stopTyping(user)
      note(`${user} left`)
    }
  }
  renderMembers()
}

const send = (message) => {
  if (socket !== null && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message))
}

const receive = (message) => {
  switch (message.type) {
    case "welcome":
      attempt = 0
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

const closed = (event, wasOpen) => {
  socket = null
  view.send.disabled = true
  for (const user of [...typing.keys()]) stopTyping(user)
  // who is there is unknown until the next connection's presence_state
  presence = null
  renderMembers()
  if (wasOpen) note(`disconnected: ${describeClose(event)}`)
  if (retryable.has(event.code)) {
    // 0.5 s doubling up to 5 s, each wait drawn between half and all of it so that the pages a
    // restarted server dropped do not all come back at the same moment
    const ceiling = Math.min(maxDelay, firstDelay * 2 ** attempt)
    const delay = ceiling / 2 + Math.random() * ceiling / 2
    attempt += 1
    retry = setTimeout(connect, delay)
    setStatus("closed", `closed ${describeClose(event)}: reconnecting in ${(delay / 1000).toFixed(1)} s`)
  } else {
    setStatus("closed", `closed ${describeClose(event)}: not reconnecting, press Reconnect to try again`)
    view.reconnect.hidden = false
  }
}

function connect() {
  clearTimeout(retry)
  retry = null
  view.reconnect.hidden = true
  // same host and port as the page, wss: when the page came over https:, so it works behind TLS
  const scheme = location.protocol === "https:" ? "wss:" : "ws:"
  const path = `/rooms/${encodeURIComponent(session.room)}?user=${encodeURIComponent(session.user)}`
  const ws = new WebSocket(`${scheme}//${location.host}${path}`)
  let wasOpen = false
  socket = ws
  setStatus("connecting", `connecting to ${session.room}…`)
  ws.onopen = () => {
    if (ws !== socket) return
    wasOpen = true
    view.send.disabled = false
    setStatus("open", `open: ${session.room}`)
  }
  ws.onmessage = (event) => {
    if (ws !== socket) return
    receive(JSON.parse(event.data))
  }
  ws.onclose = (event) => {
    if (ws === socket) closed(event, wasOpen)
  }
}

view.join.addEventListener("submit", (event) => {
  event.preventDefault()
  session = { user: view.name.value.trim(), room: view.room.value.trim() }
  try {
    localStorage.setItem("chat.name", session.user)
  } catch {
    // storage may be disabled; the name is only a convenience for next time
  }
  history.replaceState(null, "", `#${encodeURIComponent(session.room)}`)
  me = null
  presence = null
  renderMembers()
  view.log.replaceChildren()
  view.roomName.textContent = session.room
  view.join.hidden = true
  view.chat.hidden = false
  attempt = 0
  connect()
  view.text.focus()
})

view.say.addEventListener("submit", (event) => {
  event.preventDefault()
  const text = view.text.value
  if (text.trim() === "") return
  // no length check here: the server's limits decide (2,000 characters, 16 KiB), and the page shows its answer
  send({ type: "say", text })
  view.text.value = ""
  lastTyping = 0
})

view.text.addEventListener("input", () => {
  if (view.text.value === "" || Date.now() - lastTyping < typingSentEvery) return
  lastTyping = Date.now()
  send({ type: "typing" })
})

view.reconnect.addEventListener("click", () => {
  attempt = 0
  connect()
})

view.leave.addEventListener("click", () => {
  clearTimeout(retry)
  const ws = socket
  session = null
  socket = null
  ws?.close(1000, "left")
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
