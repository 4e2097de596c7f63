// The reference tables of docs/ against the sources they describe: every error and reason, every
// option and every metric the library has is in its table, and every row is still in the sources.
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
const read = (path: string) => readFileSync(`${root}${path}`, "utf8")

/** Every `.ts` file under `src/`, as a path from the root. */
const sources = (readdirSync(`${root}src`, { recursive: true }) as Array<string>)
  .filter((name) => name.endsWith(".ts"))
  .map((name) => `src/${name.replaceAll("\\", "/")}`)

/** The names in backticks of the first cell of each row of the Markdown tables in `text`. */
const firstCells = (text: string): Array<Array<string>> =>
  [...text.matchAll(/^\| ([^|\n]*) \|/gm)].map(([, cell]) => [...cell.matchAll(/`([^`]+)`/g)].map(([, name]) => name))

/** The rows of the Markdown tables in `text` whose first cell names `name` in backticks. */
const rowsOf = (text: string, name: string): Array<string> =>
  text.split("\n").filter((line) => line.startsWith(`| \`${name}\` |`))

/** The text of `## heading` in a Markdown document, up to the next heading of that level or higher. */
const section = (text: string, heading: string): string => {
  const start = text.indexOf(`\n## ${heading}\n`)
  assert.isAtLeast(start, 0, `a section "## ${heading}"`)
  const end = text.indexOf("\n## ", start + 1)
  return text.slice(start, end === -1 ? undefined : end)
}

describe("docs/errors.md", () => {
  const doc = read("docs/errors.md")
  const errors = sources.flatMap((path) =>
    [...read(path).matchAll(/class (\w+) extends Data\.TaggedError\("\w+"\)<\{([\s\S]*?)\n\}>/g)].map((
      [, name, fields]
    ) => ({ path, name, fields }))
  )

  it("finds the library's errors in the sources", () => {
    assert.includeMembers(errors.map(({ name }) => name), [
      "SendError",
      "CloseError",
      "OptionsError",
      "TestClientError",
      "EncodeError",
      "BroadcastError"
    ])
  })

  for (const { fields, name, path } of errors) {
    it(`${name} (${path}) has a row with every reason`, () => {
      // the public module that exports it names it: `Connection.SendError`
      const module = sources.find((file) =>
        /^src\/\w+\.ts$/.test(file) && new RegExp(`^export const ${name}: typeof`, "m").test(read(file))
      )
      assert.isDefined(module, `a public module exports ${name}`)
      const publicName = `${module!.slice("src/".length, -".ts".length)}.${name}`
      const rows = rowsOf(doc, publicName)
      assert.lengthOf(rows, 1, `one row for ${publicName}`)
      // the literals of its `reason` union, however it is laid out
      const reason = members(fields).find((member) => member.name === "reason")
      const reasons = [...(reason?.type ?? "").matchAll(/"(\w+)"/g)].map(([, literal]) => literal)
      for (const literal of reasons) assert.include(rows[0], `\`${literal}\``, `${publicName}'s reason ${literal}`)
    })
  }
})

interface Member {
  readonly name: string
  readonly type: string
}

/** The body of `export interface name` in `text`, between its braces. */
const interfaceBody = (text: string, name: string): string => {
  const start = new RegExp(`^export interface ${name}\\b[^{]*\\{`, "m").exec(text)
  assert.isNotNull(start, `export interface ${name}`)
  let depth = 1
  let i = start!.index + start![0].length
  const from = i
  for (; depth > 0; i++) {
    if (text[i] === "{") depth++
    else if (text[i] === "}") depth--
  }
  return text.slice(from, i - 1)
}

/** The properties of an interface or object type body, each with its type's text. */
const members = (body: string): Array<Member> => {
  const code = body.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "")
  const found: Array<{ name: string; start: number; end: number }> = []
  let depth = 0
  for (const match of code.matchAll(/readonly\s+(\w+)\??\s*:|[{}]/g)) {
    if (match[0] === "{") depth++
    else if (match[0] === "}") depth--
    else if (depth === 0) found.push({ name: match[1], start: match.index, end: match.index + match[0].length })
  }
  return found.map(({ end, name }, i) => ({ name, type: code.slice(end, found[i + 1]?.start ?? code.length) }))
}

/**
 * The option names of `export interface name` in `file`: its properties, and `parent.child` for the
 * properties of an inline object type or of another interface of the same file (`compression.level`).
 */
const optionNames = (file: string, name: string): Array<string> => {
  const text = read(file)
  const local = new Set([...text.matchAll(/^export interface (\w+)/gm)].map(([, declared]) => declared))
  return members(interfaceBody(text, name)).flatMap(({ name, type }) => {
    const inline = type.indexOf("{")
    const named = [...type.matchAll(/(?<![\w.])([A-Z]\w*)/g)].map(([, id]) => id).find((id) => local.has(id))
    const nested = inline >= 0
      ? members(type.slice(inline + 1, type.lastIndexOf("}")))
      : named === undefined
      ? []
      : members(interfaceBody(text, named))
    return [name, ...nested.map((child) => `${name}.${child.name}`)]
  })
}

describe("docs/options.md", () => {
  const doc = read("docs/options.md")
  const tables = [
    { file: "src/Upgrade.ts", name: "Options", heading: "`upgradeWebSocket`" },
    { file: "src/Protocol.ts", name: "Options", heading: "`Protocol.upgradeWebSocket`" },
    { file: "src/Broadcast.ts", name: "Options", heading: "`Broadcast.layer`" },
    { file: "src/BroadcastRedis.ts", name: "Options", heading: "`BroadcastRedis.layer`" },
    { file: "src/Testing.ts", name: "ConnectOptions", heading: "`Testing.connect` and `Testing.connectTo`" },
    { file: "src/Client.ts", name: "Options", heading: "`Client.make`" }
  ]

  it("reads Upgrade's options, nested ones included", () => {
    const names = optionNames("src/Upgrade.ts", "Options")
    assert.includeMembers(names, [
      "maxMessageSize",
      "heartbeat.interval",
      "outbound.policy",
      "compression.level",
      "rateLimit.onExceeded"
    ])
  })

  for (const { file, heading, name } of tables) {
    it(`${file}'s ${name}: one row per option under "## ${heading}", and no other`, () => {
      const rows = firstCells(section(doc, heading)).filter((cell) => cell.length > 0).map(([option]) => option)
        .filter((option) => option !== "option")
      const options = optionNames(file, name)
      assert.deepStrictEqual([...rows].sort(), [...options].sort())
    })
  }
})

describe("docs/observability.md", () => {
  it("has a row for every metric of src/internal/metrics.ts, and no other", () => {
    const metrics = [...read("src/internal/metrics.ts").matchAll(/"(websocket_\w+)"/g)].map(([, name]) => name)
    assert.isAtLeast(metrics.length, 16)
    const rows = firstCells(read("docs/observability.md")).flat().filter((name) => name.startsWith("websocket_"))
    assert.deepStrictEqual([...rows].sort(), [...metrics].sort())
  })
})
