// `tickflow sql`: SQL against the store without writing a script. `-c QUERY` (or SQL on standard
// input) prints an aligned table, or CSV with --csv; `--listen PORT` serves the embedded store on the
// PostgreSQL wire protocol for psql and BI tools until Ctrl-C.
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { text } from 'node:stream/consumers'
import { allSettings } from './settings.ts'
import { loadConfig } from '../config/load.ts'
import { keepWasmAtBaseline, optimisesEmbedded } from '../store/wasm-tier.ts'
import { UsageError, errorMessage } from '../errors.ts'
import { listenAddress, openSqlSession, serveEmbedded, type SqlResult } from '../store/sql.ts'
import type { Command } from './command.ts'
import { lockDataDir } from './data-lock.ts'

const usage = `usage: tickflow sql [-c QUERY] [--csv] [--data-dir DIR | --database-url URL]
       tickflow sql --listen [127.0.0.1:]PORT [--data-dir DIR]
Runs SQL against the store and prints a table (or CSV); without -c the SQL is read from standard
input. --listen serves the embedded store to psql and other PostgreSQL clients on localhost.`

/** psql's aligned format: centred headers, numbers right-aligned, then the row count. */
export function formatTable(r: SqlResult): string {
  const cells = r.rows.map((row) => row.map((v) => v ?? ''))
  const widths = r.fields.map((f, i) => Math.max(f.name.length, ...cells.map((row) => row[i]!.length)))
  const centre = (s: string, w: number): string => {
    const left = Math.floor((w - s.length) / 2)
    return (' '.repeat(left) + s).padEnd(w)
  }
  const line = (parts: string[]): string => ` ${parts.join(' | ')}`.trimEnd()
  const out = [
    line(r.fields.map((f, i) => centre(f.name, widths[i]!))),
    widths.map((w) => '-'.repeat(w + 2)).join('+'),
    ...cells.map((row) =>
      line(row.map((v, i) => (r.fields[i]!.numeric ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))),
    ),
    `(${r.rows.length} ${r.rows.length === 1 ? 'row' : 'rows'})`,
  ]
  return out.join('\n')
}

/** RFC 4180: a header line, then one line per row; NULL is an empty field. */
export function formatCsv(r: SqlResult): string {
  const field = (v: string | null): string =>
    v === null ? '' : /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v
  return [r.fields.map((f) => field(f.name)), ...r.rows.map((row) => row.map(field))]
    .map((cells) => cells.join(','))
    .join('\n')
}

function parse(args: string[]) {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    command: { type: 'string', short: 'c' },
    csv: { type: 'boolean' },
    listen: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  }
  for (const s of allSettings) if (s.flag) options[s.flag] = { type: 'string' }
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values
  } catch (err) {
    throw new UsageError(`${errorMessage(err).replace(/\. To specify.*$/s, '')} (tickflow sql --help)`)
  }
}

async function listen(spec: string, dir: string): Promise<number> {
  const at = listenAddress(spec)
  const server = await serveEmbedded(dir, at)
  const stopped = new Promise((r) => {
    process.once('SIGINT', r)
    process.once('SIGTERM', r)
  })
  const host = server.host.includes(':') ? `[${server.host}]` : server.host
  process.stdout.write(
    `serving ${dir} on postgresql://${host}:${server.port}/postgres (psql -h ${server.host} -p ${server.port}); Ctrl-C stops\n`,
  )
  await stopped
  await server.close()
  return 0
}

export const sqlCommand: Command = {
  rawArgs: true,
  summary: 'run SQL on the store (-c QUERY, --csv) or serve the embedded store to psql (--listen PORT)',
  async run(ctx) {
    const values = parse(ctx.args)
    if (values.help) {
      process.stdout.write(`${usage}\n`)
      return 0
    }
    const flags: Record<string, string | undefined> = {}
    for (const [k, v] of Object.entries(values)) if (typeof v === 'string') flags[k] = v
    const config = loadConfig({ flags })
    const dir = resolve(config.dataDir, 'pglite')
    // Queries, not a bulk load: PGlite stays at V8's baseline tier unless asked (src/store/wasm-tier.ts).
    if (!config.databaseUrl && !optimisesEmbedded(config.embeddedOptimize, false)) keepWasmAtBaseline()
    if (typeof values.listen === 'string') {
      if (config.databaseUrl)
        throw new UsageError(
          '--listen serves the embedded store; with DATABASE_URL connect psql to that server',
        )
      // PGlite is one process's: the store is locked like any other command's.
      const release = lockDataDir(config.dataDir)
      try {
        return await listen(values.listen, dir)
      } finally {
        release()
      }
    }
    let query = typeof values.command === 'string' ? values.command : undefined
    if (query === undefined) {
      if (process.stdin.isTTY)
        throw new UsageError('give a query with -c QUERY or on standard input, or use --listen PORT and psql')
      query = await text(process.stdin)
    }
    const release = config.databaseUrl ? () => {} : lockDataDir(config.dataDir)
    const session = await openSqlSession({ databaseUrl: config.databaseUrl, dir }).catch((err: unknown) => {
      release()
      throw err
    })
    try {
      const results = await session.run(query)
      const format = values.csv === true ? formatCsv : formatTable
      if (results.length > 0) process.stdout.write(`${results.map(format).join('\n\n')}\n`)
      return 0
    } finally {
      await session.close()
      release()
    }
  },
}
