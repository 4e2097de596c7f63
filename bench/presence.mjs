// npm run bench:presence [-- --quick] [-- --connections N] [-- --seconds D] [-- --rooms R] [-- --churn F]
// [-- --ttl MS] [-- --subscribe]: Presence across two effect-websocket processes sharing a redis-server
// started here (test/fixtures/presence-server.ts run on the built package, BroadcastRedis with presence).
//
// N connections (10,000 by default, half on each server) are tracked in R rooms (10) under a user each.
// Then, for D seconds (10), a fraction F of the connections per second (5 %) is closed (half with a
// close frame, half dropped) and replaced by a new connection with a new user, so that joins and leaves
// on both servers overlap. Measured:
// - convergence: from the churn's end until both servers list exactly the users of the open connections
//   in every room (GET /stats of the fixture, polled every 50 ms), and when either server last changed a
//   room (a watcher per room and server, subscribed, keeping the room as a page does: presence_state,
//   then the diffs in order; its view must end equal to the lists, with no gap);
// - memory: each server's heap and RSS after two full GCs (--expose-gc) before the churn, once converged
//   and a ttl later (and, without a GC, as the churn ends): it must be flat, the members being as many;
// - Redis: commands and bytes in and out per join or leave (INFO commandstats and stats over the churn,
//   the idle rate of heartbeats and sweeps taken off).
// The tracked connections are not subscribed: a diff goes to the watchers only, so that this measures
// presence and not a room's fan-out (bench:broadcast does). With --subscribe each one also subscribes
// and gets the state (every join and leave then reaches every member of its room: give it more rooms).
//
// The connections live in two client processes (this file with --client), one per server, each well
// under the 20,000 open files a process may have. Loopback only; bounded in time; every process started
// here is stopped at the end, on error too. `npm run build` first. Writes bench/results/presence.json
// (presence-quick.json with --quick).
import { fork, spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------------
// The client process: connections to one server, opened, churned and listed on the parent's orders.
// ---------------------------------------------------------------------------------------------------

const client = async () => {
  const { default: WebSocket } = await import("ws")
  let settings
  /** One slot per connection: the current connection in it, and the user it is tracked as. */
  const slots = []
  const stats = { messages: 0, bytes: 0, failed: 0, closedEarly: 0, closeCodes: {}, trackMs: [] }

  /**
   * A room as a page keeps it: the presence_state, then each diff of its stream in order (leaves, then
   * joins); a diff before the state is one the state covers, a diff out of order is a gap.
   */
  const views = []
  const apply = (view, frame) => {
    if (frame.type === "presence_state") {
      view.stream = frame.stream
      view.seq = frame.seq
      for (const [key, entries] of Object.entries(frame.presences)) {
        view.members.set(key, new Set(entries.map((entry) => entry.ref)))
      }
      return
    }
    if (frame.type !== "presence_diff" || view.stream === undefined) return
    view.lastDiffAt = Date.now()
    view.diffs++
    if (frame.stream !== view.stream || frame.seq !== view.seq + 1) view.gaps++
    view.seq = frame.seq
    for (const [key, entries] of Object.entries(frame.leaves)) {
      const refs = view.members.get(key)
      for (const entry of entries) refs?.delete(entry.ref)
      if (refs?.size === 0) view.members.delete(key)
    }
    for (const [key, entries] of Object.entries(frame.joins)) {
      let refs = view.members.get(key)
      if (refs === undefined) view.members.set(key, refs = new Set())
      for (const entry of entries) refs.add(entry.ref)
    }
  }
  const watch = (room) =>
    new Promise((resolve, reject) => {
      const view = { room, stream: undefined, seq: 0, members: new Map(), diffs: 0, gaps: 0, lastDiffAt: 0 }
      const ws = new WebSocket(`ws://127.0.0.1:${settings.port}/rooms/${room}`, { perMessageDeflate: false })
      ws.on("message", (data) => apply(view, JSON.parse(data.toString("utf8"))))
      ws.on("error", reject)
      ws.once("open", () => resolve())
      views.push({ ws, view })
    })

  /**
   * Opens slot `slot` with a new user, resolving `true` once the server says it tracked it, `false` if
   * it failed or took more than 30 s.
   */
  const open = (slot) =>
    new Promise((resolve) => {
      const generation = (slots[slot]?.generation ?? -1) + 1
      const user = `${settings.name}${slot}.${generation}`
      const room = `r${slot % settings.rooms}`
      const started = performance.now()
      const ws = new WebSocket(
        `ws://127.0.0.1:${settings.port}/rooms/${room}?user=${user}&ack=1${settings.subscribe ? "" : "&subscribe=no"}`,
        { perMessageDeflate: false }
      )
      const entry = { ws, user, room, generation, tracked: false, closing: false }
      slots[slot] = entry
      const timer = setTimeout(() => done(false), 30_000)
      function done(ok) {
        clearTimeout(timer)
        if (!ok) {
          stats.failed++
          entry.closing = true
          ws.terminate()
        }
        resolve(ok)
      }
      ws.on("message", (data) => {
        stats.messages++
        stats.bytes += data.length
        if (!entry.tracked && data.length === 7 && data.toString() === "tracked") {
          entry.tracked = true
          stats.trackMs.push(performance.now() - started)
          done(true)
        }
      })
      ws.on("error", () => {})
      ws.on("close", (code) => {
        if (!entry.closing) {
          stats.closedEarly++
          stats.closeCodes[code] = (stats.closeCodes[code] ?? 0) + 1
          if (!entry.tracked) done(false)
          entry.tracked = false
        }
      })
    })

  const openAll = async (count) => {
    let ok = 0
    for (let i = 0; i < count; i += 100) {
      const batch = []
      for (let slot = i; slot < Math.min(count, i + 100); slot++) batch.push(open(slot))
      ok += (await Promise.all(batch)).filter(Boolean).length
    }
    return ok
  }

  /** Closes a tracked connection (a close frame or a dropped socket, in turns); `true` if it was one. */
  let turn = 0
  const close = (slot) => {
    const entry = slots[slot]
    if (entry === undefined || !entry.tracked || entry.closing) return false
    entry.closing = true
    entry.tracked = false
    if (turn++ % 2 === 0) entry.ws.close(1000)
    else entry.ws.terminate()
    return true
  }

  const churn = async (seconds, rate) => {
    const count = slots.length
    const tick = 50
    const end = Date.now() + seconds * 1000
    const pending = new Set()
    let credit = 0
    let joins = 0
    let leaves = 0
    while (Date.now() < end) {
      credit += (count * rate * tick) / 1000
      let attempts = 0
      while (credit >= 1 && attempts < 100) {
        attempts++
        const slot = Math.floor(Math.random() * count)
        if (!close(slot)) continue
        credit--
        leaves++
        const reopened = open(slot).then((ok) => {
          if (ok) joins++
          pending.delete(reopened)
        })
        pending.add(reopened)
      }
      await sleep(tick)
    }
    const stoppedAt = Date.now()
    await Promise.all(pending)
    return { joins, leaves, stoppedAt, settledAt: Date.now() }
  }

  /** The users of the open, tracked connections, by room, and what the watchers see. */
  const expected = () => {
    const rooms = {}
    for (const entry of slots) {
      if (entry === undefined || !entry.tracked) continue
      ;(rooms[entry.room] ??= []).push(entry.user)
    }
    const sorted = [...stats.trackMs].sort((a, b) => a - b)
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
    return {
      rooms,
      trackMs: { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 },
      views: Object.fromEntries(views.map(({ view }) => [view.room, {
        keys: [...view.members.keys()].sort(),
        diffs: view.diffs,
        gaps: view.gaps,
        lastDiffAt: view.lastDiffAt
      }])),
      messages: stats.messages,
      bytes: stats.bytes,
      closedEarly: stats.closedEarly
    }
  }

  process.on("message", async (message) => {
    switch (message.type) {
      case "open": {
        settings = message
        for (let i = 0; i < message.rooms; i++) await watch(`r${i}`)
        const started = Date.now()
        const opened = await openAll(message.count)
        process.send({ type: "opened", opened, failed: stats.failed, ms: Date.now() - started })
        break
      }
      case "churn": {
        const before = { messages: stats.messages, bytes: stats.bytes, failed: stats.failed }
        const result = await churn(message.seconds, message.rate)
        process.send({
          type: "churned",
          ...result,
          messages: stats.messages - before.messages,
          bytes: stats.bytes - before.bytes,
          failed: stats.failed - before.failed,
          closedEarly: stats.closedEarly,
          closeCodes: stats.closeCodes
        })
        break
      }
      case "expected": {
        process.send({ type: "expected", ...expected() })
        break
      }
      case "stop": {
        for (const { ws } of views) ws.terminate()
        for (const entry of slots) {
          if (entry === undefined) continue
          entry.closing = true
          entry.ws.terminate()
        }
        process.exit(0)
      }
    }
  })
  process.on("disconnect", () => process.exit(0))
  process.send({ type: "ready" })
}

if (process.argv[2] === "--client") {
  await client()
} else {
  await main()
}

// ---------------------------------------------------------------------------------------------------
// The parent: Redis, the two servers, the clients, the measurements.
// ---------------------------------------------------------------------------------------------------

async function main() {
  const { builtEnv } = await import("./built.mjs")
  const { Redis } = await import("ioredis")
  const argv = process.argv
  const quick = argv.includes("--quick")
  const flag = (name, fallback) => {
    const i = argv.indexOf(`--${name}`)
    if (i < 0) return fallback
    const value = Number(argv[i + 1])
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} takes a positive number`)
    return value
  }
  const connections = Math.round(flag("connections", quick ? 400 : 10_000))
  const seconds = flag("seconds", quick ? 3 : 10)
  const subscribe = argv.includes("--subscribe")
  const rooms = Math.round(flag("rooms", quick ? 4 : 10))
  const rate = flag("churn", 0.05)
  const ttl = Math.round(flag("ttl", quick ? 3_000 : 10_000))
  /** How long the lists may take to agree once polled (a lost change is repaired within a sweep, ttl / 2). */
  const convergeTimeout = Math.max(30_000, 3 * ttl)
  const env = builtEnv(root) // throws when dist/ is missing or stale: `npm run build` first

  /** Every process started here, killed at the end whatever happens. */
  const children = []
  const killAll = () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    }
  }
  process.on("exit", killAll)
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      killAll()
      process.exit(130)
    })
  }
  const deadline = setTimeout(() => {
    console.error("bench:presence: did not finish in time")
    killAll()
    process.exit(1)
  }, (quick ? 3 : 10) * 60_000 + seconds * 1000)
  deadline.unref()

  const freePort = () =>
    new Promise((resolve) => {
      const server = Net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address()
        server.close(() => resolve(port))
      })
    })

  /** Resolves with the first match of `pattern` in the child's stdout; rejects if it exits first. */
  const waitFor = (child, name, pattern, forward) =>
    new Promise((resolve, reject) => {
      let output = ""
      let found = false
      const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s:\n${output}`)), 60_000)
      child.stdout.on("data", (chunk) => {
        const text = chunk.toString()
        if (found) {
          if (forward) process.stderr.write(text.replace(/^(?=.)/gm, `[${name}] `))
          return
        }
        output += text
        const match = pattern.exec(output)
        if (match !== null) {
          found = true
          clearTimeout(timer)
          resolve(match)
        }
      })
      child.once("exit", (code, signal) => {
        clearTimeout(timer)
        if (!found) reject(new Error(`${name} exited with ${code ?? signal}:\n${output}`))
        else if (!stopping) console.error(`bench:presence: ${name} exited with ${code ?? signal} during the run`)
      })
    })
  let stopping = false

  const startRedis = async () => {
    const port = await freePort()
    const child = spawn("/usr/bin/redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "no"
    ], { stdio: ["ignore", "pipe", "inherit"] })
    children.push(child)
    await waitFor(child, "redis-server", /Ready to accept connections/, false)
    return { child, port, url: `redis://127.0.0.1:${port}` }
  }

  const startServer = async (name, redisUrl) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", join(root, "test/fixtures/presence-server.ts")],
      {
        cwd: root,
        env: { ...env, REDIS_URL: redisUrl, PRESENCE_TTL_MS: String(ttl), SERVER_NAME: name, PORT: "0" },
        stdio: ["ignore", "pipe", "inherit"]
      }
    )
    children.push(child)
    const match = await waitFor(child, `server ${name}`, /listening (\d+)/, true)
    return { name, child, port: Number(match[1]) }
  }

  const startClient = async () => {
    const child = fork(fileURLToPath(import.meta.url), ["--client"], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    children.push(child)
    await answer(child, "ready", 30_000)
    return child
  }

  /** The child's next IPC message of `type`. */
  const answer = (child, type, timeout) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off("message", listener)
        reject(new Error(`a client did not answer ${type} within ${timeout / 1000} s`))
      }, timeout)
      const listener = (message) => {
        if (message.type !== type) return
        clearTimeout(timer)
        child.off("message", listener)
        resolve(message)
      }
      child.on("message", listener)
      child.once("exit", (code) => {
        clearTimeout(timer)
        reject(new Error(`a client exited with ${code} before answering ${type}`))
      })
    })
  const ask = (child, message, type, timeout) => {
    const answered = answer(child, type, timeout)
    child.send(message)
    return answered
  }

  /** The two servers, once started. */
  let servers = []
  const roomNames = Array.from({ length: rooms }, (_, i) => `r${i}`)
  /** GET /stats of a server: each room's keys as it sees them and its memory (after two full GCs unless `gc`). */
  const stats = async (server, gc = true) => {
    const started = performance.now()
    const response = await fetch(
      `http://127.0.0.1:${server.port}/stats?rooms=${roomNames.join(",")}${gc ? "" : "&gc=no"}`,
      { signal: AbortSignal.timeout(30_000) }
    )
    const body = await response.json()
    return { ...body, ms: performance.now() - started }
  }

  /** How a server's lists differ from `expected` (room -> users): missing and extra users, entries. */
  const compare = (body, expected) => {
    let missing = 0
    let extra = 0
    let entries = 0
    const examples = []
    for (const room of roomNames) {
      const want = new Set(expected[room] ?? [])
      const have = body.rooms[room]
      entries += have.entries
      for (const key of have.keys) {
        if (!want.has(key)) {
          extra++
          if (examples.length < 5) examples.push({ kind: "extra", key, room })
        }
      }
      const seen = new Set(have.keys)
      for (const key of want) {
        if (!seen.has(key)) {
          missing++
          if (examples.length < 5) examples.push({ kind: "missing", key, room })
        }
      }
    }
    return { missing, extra, entries, examples }
  }
  const total = (expected) => Object.values(expected).reduce((n, users) => n + users.length, 0)

  const exact = (compared, want) => compared.every((c) => c.missing === 0 && c.extra === 0 && c.entries === want)
  const mismatch = (compared, want) =>
    compared.map((c, i) =>
      `${servers[i].name}: ${c.missing} missing, ${c.extra} extra, ${c.entries} entries for ${want} (${
        c.examples.map((e) => `${e.kind} ${e.key} in ${e.room}`).join("; ")
      })`
    ).join("\n")

  /**
   * Polls both servers (no GC) every 50 ms until each lists exactly `expected`, one entry per user.
   * Resolves with the time from `since`, the number of polls, and the first poll's answers.
   */
  const converge = async (expected, since) => {
    const want = total(expected)
    const started = Date.now()
    let first
    let polls = 0
    let last
    while (Date.now() - started < convergeTimeout) {
      const bodies = await Promise.all(servers.map((server) => stats(server, false)))
      first ??= bodies
      polls++
      last = bodies.map((body) => compare(body, expected))
      if (exact(last, want)) return { ms: Date.now() - since, polls, first, last }
      await sleep(50)
    }
    throw new Error(
      `the servers did not converge within ${convergeTimeout / 1000} s:\n${mismatch(last, want)}\n` +
        await diagnose(last.flatMap((c) => c.examples))
    )
  }

  /** What Redis and each server hold for the users the lists disagree on, to tell where a change got lost. */
  const diagnose = async (examples) => {
    const lines = []
    try {
      const prefix = "effect-websocket:@presence:"
      const ids = await redisClient.smembers(`${prefix}servers`)
      for (const id of ids) {
        const hash = await redisClient.hgetall(`${prefix}entries:${id}`)
        const alive = await redisClient.pttl(`${prefix}alive:${id}`)
        lines.push(
          `Redis: server ${id}: ${Object.keys(hash).length - 1} entries, @seq ${hash["@seq"]}, alive ${alive} ms`
        )
        for (const { key } of examples) {
          for (const value of Object.values(hash)) if (value.includes(`"${key}"`)) lines.push(`  holds ${value}`)
        }
      }
      for (const { key, room } of examples) {
        for (const server of servers) {
          const response = await fetch(`http://127.0.0.1:${server.port}/presence/${room}`)
          const list = await response.json()
          lines.push(`${server.name} lists ${key} in ${room} as ${JSON.stringify(list[key] ?? null)}`)
        }
      }
    } catch (error) {
      lines.push(`(diagnosis failed: ${error})`)
    }
    return lines.join("\n")
  }

  /** INFO of Redis: the counters, and the calls of each command. */
  const info = async (redis) => {
    const text = await redis.info("all")
    const fields = {}
    const commands = {}
    for (const line of text.split("\r\n")) {
      const command = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
      if (command !== null) commands[command[1]] = Number(command[2])
      else {
        const field = /^([a-z_]+):(\d+)$/.exec(line)
        if (field !== null) fields[field[1]] = Number(field[2])
      }
    }
    return {
      at: Date.now(),
      commands: fields.total_commands_processed,
      netIn: fields.total_net_input_bytes,
      netOut: fields.total_net_output_bytes,
      byCommand: commands
    }
  }
  const traffic = (from, to) => {
    const byCommand = {}
    for (const [name, calls] of Object.entries(to.byCommand)) {
      const delta = calls - (from.byCommand[name] ?? 0)
      if (delta > 0 && name !== "info") byCommand[name] = delta
    }
    return {
      ms: to.at - from.at,
      commands: to.commands - from.commands - ((to.byCommand.info ?? 0) - (from.byCommand.info ?? 0)),
      netIn: to.netIn - from.netIn,
      netOut: to.netOut - from.netOut,
      byCommand
    }
  }

  const memoryOf = (body) => ({
    heapUsed: body.memory.heapUsed,
    heapTotal: body.memory.heapTotal,
    rss: body.memory.rss,
    external: body.memory.external,
    arrayBuffers: body.memory.arrayBuffers,
    gc: body.gc
  })

  let redisClient
  try {
    const redis = await startRedis()
    redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true })
    redisClient.on("error", () => {})
    await redisClient.connect()
    servers = await Promise.all([startServer("A", redis.url), startServer("B", redis.url)])
    const clients = await Promise.all(servers.map(() => startClient()))
    const perServer = servers.map((_, i) => Math.floor(connections / 2) + (i < connections % 2 ? 1 : 0))
    const idle = await Promise.all(servers.map((server) => stats(server)))
    process.stderr.write(`redis-server on ${redis.port}, servers A on ${servers[0].port} and B on ${servers[1].port}\n`)

    // 1. open every connection, and wait until both servers list every user
    const openStarted = Date.now()
    const opened = await Promise.all(clients.map((child, i) =>
      ask(
        child,
        {
          type: "open",
          port: servers[i].port,
          count: perServer[i],
          rooms,
          subscribe,
          name: servers[i].name.toLowerCase()
        },
        "opened",
        10 * 60_000
      )
    ))
    const openMs = Date.now() - openStarted
    const openFailed = opened.reduce((n, o) => n + o.failed, 0)
    process.stderr.write(`opened ${opened.reduce((n, o) => n + o.opened, 0)} connections in ${openMs} ms\n`)
    const expectedOf = async () => {
      const lists = await Promise.all(clients.map((child) => ask(child, { type: "expected" }, "expected", 60_000)))
      const merged = {}
      for (const list of lists) {
        for (const [room, users] of Object.entries(list.rooms)) (merged[room] ??= []).push(...users)
      }
      return { merged, lists }
    }
    const initial = await expectedOf()
    const initialConvergence = await converge(initial.merged, Date.now())
    process.stderr.write(
      `both servers list all ${total(initial.merged)} users (${initialConvergence.ms} ms after the last open)\n`
    )

    // 2. the idle traffic (heartbeats and sweeps), then the memory before the churn
    const idleMs = quick ? 2_000 : 5_000
    const idleFrom = await info(redisClient)
    await sleep(idleMs)
    const idleTraffic = traffic(idleFrom, await info(redisClient))
    const before = await Promise.all(servers.map((server) => stats(server)))

    // 3. the churn
    process.stderr.write(`churning ${rate * 100} % of the connections per second for ${seconds} s\n`)
    const churnFrom = await info(redisClient)
    const churned = await Promise.all(
      clients.map((child) => ask(child, { type: "churn", seconds, rate }, "churned", seconds * 1000 + 5 * 60_000))
    )
    process.stderr.write(
      `churn done: ${
        churned.map((c) =>
          `${c.joins} joins, ${c.leaves} leaves, ${c.failed} failed opens, ` +
          `${c.closedEarly} closed by the server ${JSON.stringify(c.closeCodes)}`
        ).join("; ")
      }\n`
    )
    const stoppedAt = Math.max(...churned.map((c) => c.stoppedAt))
    const settledAt = Math.max(...churned.map((c) => c.settledAt))

    // 4. convergence: from the churn's end until both servers list the open connections' users exactly;
    // the first poll's heap is the one at the churn's end (no GC: what it holds then, garbage included)
    const after = await expectedOf()
    const converged = await converge(after.merged, stoppedAt)
    const churnTraffic = traffic(churnFrom, await info(redisClient))
    process.stderr.write(`converged ${converged.ms} ms after the churn stopped\n`)
    const afterConvergence = await Promise.all(servers.map((server) => stats(server)))
    // when each server last changed a room, as the watchers saw it: the convergence, to the millisecond
    const final = await expectedOf()
    if (total(final.merged) !== total(after.merged)) throw new Error("connections closed after the churn")
    // the watchers' rooms (state, then diffs) end where the lists are, with no gap
    const watched = final.lists.flatMap((list, i) =>
      roomNames.map((room) => {
        const view = list.views[room]
        const want = [...(after.merged[room] ?? [])].sort()
        return { server: servers[i].name, room, ...view, exact: JSON.stringify(view.keys) === JSON.stringify(want) }
      })
    )
    const lastDiffMs = Math.max(...watched.map((view) => view.lastDiffAt)) - stoppedAt
    const watchersExact = watched.every((view) => view.exact && view.gaps === 0)
    if (!watchersExact) {
      const wrong = watched.filter((view) => !view.exact || view.gaps > 0)
      process.stderr.write(
        `watchers disagree: ${
          wrong.slice(0, 5).map((view) => `${view.server}/${view.room}: ${view.keys.length} keys, ${view.gaps} gaps`)
            .join("; ")
        }\n`
      )
    }
    // a ttl later (heartbeats and sweeps ran): still exactly the same members, and the heap where it was
    await sleep(ttl)
    const later = await Promise.all(servers.map((server) => stats(server)))
    const laterCompared = later.map((body) => compare(body, after.merged))
    if (!exact(laterCompared, total(after.merged))) {
      throw new Error(`the lists changed after converging:\n${mismatch(laterCompared, total(after.merged))}`)
    }

    // 5. the report
    const joins = churned.reduce((n, c) => n + c.joins, 0)
    const leaves = churned.reduce((n, c) => n + c.leaves, 0)
    const changes = joins + leaves
    const idlePerMs = (value) => value / idleTraffic.ms
    const net = (field) => churnTraffic[field] - idlePerMs(idleTraffic[field]) * churnTraffic.ms
    const result = {
      date: new Date().toISOString(),
      quick,
      node: process.version,
      settings: { connections, perServer, rooms, subscribed: subscribe, churnPerSecond: rate, seconds, ttlMs: ttl },
      open: {
        ms: openMs,
        failed: openFailed,
        initialConvergenceMs: initialConvergence.ms,
        ownJoinMs: final.lists.map((list) => list.trackMs)
      },
      churn: {
        joins,
        leaves,
        perSecond: changes / seconds,
        failed: churned.reduce((n, c) => n + c.failed, 0),
        closedEarly: churned.reduce((n, c) => n + c.closedEarly, 0),
        lastJoinTrackedMsAfterStop: settledAt - stoppedAt,
        framesToClients: churned.reduce((n, c) => n + c.messages, 0),
        bytesToClients: churned.reduce((n, c) => n + c.bytes, 0)
      },
      convergence: {
        /** The last change either server applied to a room, after the churn stopped (the watchers' clock). */
        /** (negative: the last change was applied before the churn's loop ended, its opens all tracked) */
        lastChangeMsAfterStop: lastDiffMs,
        /** The first poll of both lists that found them exact (polled every 50 ms, no GC). */
        polledMsAfterStop: converged.ms,
        polls: converged.polls,
        members: total(after.merged),
        entriesPerServer: Object.fromEntries(converged.last.map((c, i) => [servers[i].name, c.entries])),
        stillExactTtlLater: true,
        /** Each watcher's room (its state and every diff after it) equals the lists, with no gap. */
        watchersExact,
        watcherDiffs: watched.reduce((n, view) => n + view.diffs, 0),
        watcherGaps: watched.reduce((n, view) => n + view.gaps, 0)
      },
      memory: servers.map((server, i) => ({
        server: server.name,
        idle: memoryOf(idle[i]),
        beforeChurn: memoryOf(before[i]),
        afterChurnNoGc: memoryOf(converged.first[i]),
        afterConvergence: memoryOf(afterConvergence[i]),
        ttlLater: memoryOf(later[i])
      })),
      redis: {
        idle: { ...idleTraffic, commandsPerSecond: idlePerMs(idleTraffic.commands) * 1000 },
        churn: churnTraffic,
        perChange: {
          commands: churnTraffic.commands / changes,
          netIn: churnTraffic.netIn / changes,
          netOut: churnTraffic.netOut / changes,
          commandsNetOfIdle: net("commands") / changes,
          netInNetOfIdle: net("netIn") / changes,
          netOutNetOfIdle: net("netOut") / changes,
          byCommand: Object.fromEntries(
            Object.entries(churnTraffic.byCommand).map(([name, calls]) => [name, calls / changes])
          )
        }
      }
    }
    // flat: the same number of members before and after, so the heap after GC is where it was (within 8
    // MiB or 10 %), once converged and a ttl later
    const growth = result.memory.map((m) =>
      Math.max(m.afterConvergence.heapUsed, m.ttlLater.heapUsed) - m.beforeChurn.heapUsed
    )
    result.memoryFlat = growth.every((g, i) =>
      g < Math.max(8 * 1024 * 1024, 0.1 * result.memory[i].beforeChurn.heapUsed)
    )

    const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1)
    const signed = (bytes) => `${bytes >= 0 ? "+" : ""}${mib(bytes)}`
    const table = (rows) => {
      const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => String(row[c]).length)))
      for (const [r, row] of rows.entries()) {
        console.log(
          row.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join("  ")
        )
        if (r === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "))
      }
    }
    const ms = (value) => `${Math.round(value)} ms`
    console.log()
    console.log(
      `presence: ${connections} connections (${perServer.join(" + ")}) in ${rooms} rooms on 2 servers + Redis, ` +
        `ttl ${ttl} ms; churn ${rate * 100} % of the connections per second for ${seconds} s; tracked connections ` +
        (subscribe ? "subscribed (every diff to every member)" : "not subscribed (diffs to the watchers)")
    )
    console.log()
    table([
      ["phase", "result"],
      ["open, every connection tracked", `${(openMs / 1000).toFixed(1)} s, ${openFailed} failed`],
      ["both servers list everyone", `${ms(initialConvergence.ms)} after the last own join`],
      [
        "own join back, p50/p99/max (A; B)",
        final.lists.map((l) => `${ms(l.trackMs.p50)}/${ms(l.trackMs.p99)}/${ms(l.trackMs.max)}`).join("; ")
      ],
      ["churn: joins + leaves", `${joins} + ${leaves} = ${changes} (${(changes / seconds).toFixed(0)}/s)`],
      ["churn: failed opens / closed by server", `${result.churn.failed} / ${result.churn.closedEarly}`],
      [
        "churn: frames to tracked connections",
        `${result.churn.framesToClients} (${mib(result.churn.bytesToClients)} MiB)`
      ],
      ["last own join after the churn stopped", ms(settledAt - stoppedAt)],
      [
        "converged: last change applied after stop",
        lastDiffMs > 0 ? ms(lastDiffMs) : `before the stop (${ms(lastDiffMs)})`
      ],
      ["converged: first exact poll after stop", `${ms(converged.ms)} (${converged.polls} polls)`],
      [
        "watchers (state + diffs, 1 per room and server)",
        `${watchersExact ? "equal to the lists" : "DIFFERENT"}, ${result.convergence.watcherDiffs} diffs, ` +
        `${result.convergence.watcherGaps} gaps`
      ],
      [
        "members listed by each server",
        `${total(after.merged)} expected: ${
          converged.last.map((c, i) => `${servers[i].name} ${c.entries}`).join(", ")
        }` +
        `; unchanged ${ttl} ms later`
      ]
    ])
    console.log()
    table([
      ["memory (MiB)", "idle", "before churn", "churn end*", "converged", `+${ttl / 1000} s`, "converged - before"],
      ...result.memory.flatMap((m) => [
        [
          `server ${m.server} heap`,
          mib(m.idle.heapUsed),
          mib(m.beforeChurn.heapUsed),
          mib(m.afterChurnNoGc.heapUsed),
          mib(m.afterConvergence.heapUsed),
          mib(m.ttlLater.heapUsed),
          signed(m.afterConvergence.heapUsed - m.beforeChurn.heapUsed)
        ],
        [
          `server ${m.server} RSS`,
          mib(m.idle.rss),
          mib(m.beforeChurn.rss),
          mib(m.afterChurnNoGc.rss),
          mib(m.afterConvergence.rss),
          mib(m.ttlLater.rss),
          signed(m.afterConvergence.rss - m.beforeChurn.rss)
        ]
      ])
    ])
    console.log(
      `heap after two full GCs (--expose-gc: ${result.memory.every((m) => m.beforeChurn.gc)}), except *: ` +
        "as the churn ended, garbage included (no GC, so as not to hold up the convergence)"
    )
    console.log()
    const per = result.redis.perChange
    table([
      ["Redis, churn to convergence", "total", "per join/leave", "net of idle"],
      ["commands", churnTraffic.commands, per.commands.toFixed(2), per.commandsNetOfIdle.toFixed(2)],
      ["bytes in", churnTraffic.netIn, per.netIn.toFixed(0), per.netInNetOfIdle.toFixed(0)],
      ["bytes out (pub/sub to 2 servers)", churnTraffic.netOut, per.netOut.toFixed(0), per.netOutNetOfIdle.toFixed(0)],
      ...Object.entries(churnTraffic.byCommand).sort((a, b) => b[1] - a[1]).map(([name, calls]) => [
        `  ${name}`,
        calls,
        (calls / changes).toFixed(2),
        ""
      ])
    ])
    console.log(
      `idle: ${result.redis.idle.commandsPerSecond.toFixed(1)} commands/s (heartbeats and sweeps of 2 servers, ` +
        `ttl ${ttl} ms), ${(idleTraffic.netIn / idleTraffic.ms * 1000).toFixed(0)} bytes/s in`
    )
    mkdirSync(join(here, "results"), { recursive: true })
    const file = join(here, "results", quick ? "presence-quick.json" : "presence.json")
    writeFileSync(file, JSON.stringify(result, null, 2) + "\n")
    const ok = result.memoryFlat && watchersExact && openFailed === 0 && result.churn.failed === 0 &&
      result.churn.closedEarly === 0
    console.log()
    console.log(
      `presence: ${ok ? "ok" : "NOT OK"}: both servers converged on the ${total(after.merged)} members, watchers ${
        watchersExact ? "agree" : "DISAGREE"
      }, heap ${result.memoryFlat ? "flat" : "GREW"} (${growth.map(signed).join(", ")} MiB); wrote ${
        file.slice(root.length + 1)
      }`
    )
    stopping = true
    await Promise.all(clients.map((child) => {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.send({ type: "stop" })
      return Promise.race([exited, sleep(5_000)])
    }))
    process.exitCode = ok ? 0 : 1
  } catch (error) {
    console.error(`bench:presence: ${error instanceof Error ? error.stack : String(error)}`)
    process.exitCode = 1
  } finally {
    stopping = true
    redisClient?.disconnect()
    killAll()
    clearTimeout(deadline)
  }
}
