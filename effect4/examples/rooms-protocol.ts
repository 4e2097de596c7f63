// The protocol both ends of examples/rooms-server.ts and examples/rooms-client.ts speak: declared once.
import { Schema } from "effect"
import { Protocol } from "effect-websocket"

export const Rooms = Protocol.json({
  // what the client sends, and what the server sends
  incoming: Schema.Struct({ type: Schema.Literal("say"), text: Schema.String }),
  outgoing: Schema.Struct({ type: Schema.Literal("said"), room: Schema.String, text: Schema.String }),
  // what the client may ask, and the typed answers
  requests: {
    join: {
      payload: Schema.Struct({ room: Schema.String }),
      success: Schema.Struct({ room: Schema.String }),
      failure: Schema.Struct({ refused: Schema.String })
    }
  }
})
