// The chat rooms' protocol, shared by the server (examples/chat-room.ts) and the page
// (examples/public/chat.ts, bundled for the browser): it imports the library's light subpaths only,
// so the page's bundle holds no server code.
import { Schema } from "effect"
import * as Presence from "effect-websocket/Presence"
import * as Protocol from "effect-websocket/Protocol"

/** Who is in a room, on every server: one key per user name, one entry per connection (tab). */
export const RoomMembers = Presence.make({
  meta: Schema.Struct({ user: Schema.String }),
  key: (meta) => meta.user
})

/** What a member sends, and what the room sends to members. */
export const ChatProtocol = Protocol.json({
  incoming: Schema.Union(
    Schema.Struct({
      type: Schema.Literal("say"),
      text: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000))
    }),
    Schema.Struct({ type: Schema.Literal("typing") }),
    // the page missed a presence diff (a gap in its seq): it asks for the members again
    Schema.Struct({ type: Schema.Literal("sync") })
  ),
  outgoing: Schema.Union(
    Schema.Struct({ type: Schema.Literal("welcome"), room: Schema.String, user: Schema.String, server: Schema.Number }),
    Schema.Struct({ type: Schema.Literal("said"), user: Schema.String, text: Schema.String }),
    Schema.Struct({ type: Schema.Literal("typing"), user: Schema.String }),
    Schema.Struct({ type: Schema.Literal("notice"), text: Schema.String }),
    // who is in the room when a member arrives (`presence_state`), then every join and leave after it
    // (`presence_diff`): sent by Presence itself, listed here so that clients decode the whole protocol
    RoomMembers.State,
    RoomMembers.Diff
  )
})
