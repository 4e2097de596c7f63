// Broadcast subscriptions on plain objects: members by topic, first and last subscriber, leaving all.
import { assert, describe, it } from "@effect/vitest"
import { Subscriptions } from "../../../src/internal/core/hub.js"

const make = () => {
  const events: Array<string> = []
  const subscriptions = new Subscriptions<{ readonly name: string }, string>(
    (topic) => `extra of ${topic}`,
    (topic) => events.push(`first ${topic}`),
    (topic) => events.push(`last ${topic}`)
  )
  return { events, subscriptions }
}

describe("core/Hub", () => {
  it("a topic exists from its first subscriber to its last, with what the driver attached", () => {
    const { events, subscriptions } = make()
    const a = { name: "a" }
    const b = { name: "b" }
    subscriptions.subscribe(a, "room")
    subscriptions.subscribe(b, "room")
    assert.strictEqual(subscriptions.subscriberCount("room"), 2)
    assert.strictEqual(subscriptions.topic("room")?.extra, "extra of room")
    assert.deepStrictEqual([...subscriptions.topic("room")!.members], [a, b])
    subscriptions.unsubscribe(a, "room")
    subscriptions.unsubscribe(b, "room")
    assert.isUndefined(subscriptions.topic("room"))
    assert.deepStrictEqual(subscriptions.topicNames(), [])
    assert.deepStrictEqual(events, ["first room", "last room"])
  })

  it("subscribing twice counts once; unsubscribing what was never subscribed does nothing", () => {
    const { events, subscriptions } = make()
    const a = { name: "a" }
    subscriptions.subscribe(a, "room")
    subscriptions.subscribe(a, "room")
    assert.strictEqual(subscriptions.subscriberCount("room"), 1)
    subscriptions.unsubscribe({ name: "other" }, "room")
    subscriptions.unsubscribe(a, "elsewhere")
    assert.strictEqual(subscriptions.subscriberCount("room"), 1)
    assert.deepStrictEqual(events, ["first room"])
  })

  it("says which subscription is a member's first, so that the driver arranges its leaving once", () => {
    const { subscriptions } = make()
    const a = { name: "a" }
    assert.isTrue(subscriptions.subscribe(a, "x"))
    assert.isFalse(subscriptions.subscribe(a, "y"))
    assert.isFalse(subscriptions.subscribe(a, "x"))
  })

  it("leaveAll drops every topic of a member; topics left empty are forgotten", () => {
    const { events, subscriptions } = make()
    const a = { name: "a" }
    const b = { name: "b" }
    for (const topic of ["x", "y", "z"]) subscriptions.subscribe(a, topic)
    subscriptions.subscribe(b, "y")
    subscriptions.leaveAll(a)
    assert.deepStrictEqual(subscriptions.topicNames(), ["y"])
    assert.deepStrictEqual([...subscriptions.topic("y")!.members], [b])
    assert.deepStrictEqual(events, ["first x", "first y", "first z", "last x", "last z"])
    subscriptions.leaveAll(a)
    assert.deepStrictEqual(subscriptions.topicNames(), ["y"])
  })
})
