// Replays a recorded file as trades: CSV or NDJSON trade files (column names mapped by --columns
// when the file uses other names), or a recorded Binance WebSocket feed (`<recv ns> <frame JSON>`
// per line, trade frames only). Gzip is detected from the file's magic bytes. --speed 0 replays as
// fast as possible, 1 in real time, N at N times real time, pacing on the file's event time.
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { createGunzip } from 'node:zlib'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { parse } from 'csv-parse/sync'
import { z } from 'zod'
import { TickflowError } from '../errors.ts'
import { isoMicros, type Trade } from '../processor/trade.ts'
import type { Source, SourceAdapter, SourceDeps } from './types.ts'

export const replayOptions = z.object({
  file: z.string().min(1),
  format: z.enum(['auto', 'csv', 'ndjson', 'binance-feed']).default('auto'),
  /** field=column pairs, e.g. {symbol: 'Name', ts: 'date'}. */
  columns: z.record(z.string(), z.string()).default({}),
  speed: z.number().nonnegative().default(0),
  source: z.string().default('replay'),
  /** Symbol for files without a symbol column. */
  symbol: z.string().optional(),
  batchSize: z.number().int().positive().default(1000),
  progress: z.boolean().default(false),
  /** Skip the first N trades (resuming a replay from a checkpoint). */
  skip: z.number().int().nonnegative().default(0),
})
export type ReplayOptions = z.output<typeof replayOptions>

type Field = 'symbol' | 'ts' | 'price' | 'size' | 'id'
const aliases: Record<Field, string[]> = {
  symbol: ['symbol', 'ticker', 'sym', 's', 'name'],
  ts: ['ts', 'timestamp', 'time', 'trade_ts_ms', 'trade_time', 't', 'datetime', 'date'],
  price: ['price', 'p', 'px', 'close'],
  size: ['size', 'qty', 'quantity', 'volume', 'q', 'amount'],
  id: ['id', 'trade_id', 'tradeid'],
}

function parseCsvLine(line: string): string[][] {
  const rows: unknown = parse(line, { relax_column_count: true })
  return rows as string[][]
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  try {
    const buf = Buffer.alloc(2)
    await fh.read(buf, 0, 2, 0)
    return buf[0] === 0x1f && buf[1] === 0x8b
  } finally {
    await fh.close()
  }
}

async function* prepend(first: string, rest: AsyncGenerator<string>): AsyncGenerator<string> {
  yield first
  yield* rest
}

async function* lines(file: string): AsyncGenerator<string> {
  let input: Readable = createReadStream(file)
  if (await isGzip(file)) input = input.pipe(createGunzip())
  const rl = createInterface({ input, crlfDelay: Infinity })
  for await (const line of rl) if (line.length > 0) yield line
}

/** Epoch number (s, ms, µs or ns by magnitude) or an ISO/date string → ISO with microseconds. */
export function normaliseTs(raw: string): string | undefined {
  const s = raw.trim()
  if (/^\d+(\.\d+)?$/.test(s)) {
    const digits = s.split('.')[0]!.length
    // Integer arithmetic on the string keeps nanosecond inputs exact to the microsecond.
    const [intPart] = s.split('.')
    let micros: bigint
    if (digits <= 11) micros = BigInt(Math.round(Number(s) * 1e6))
    else if (digits <= 14) micros = BigInt(intPart!) * 1000n
    else if (digits <= 17) micros = BigInt(intPart!)
    else micros = BigInt(intPart!) / 1000n
    const ms = Number(micros / 1000n)
    return isoMicros(ms, Number(micros % 1000n))
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return `${s}T00:00:00.000000Z`
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/.exec(s)
  if (!m) return undefined
  const frac = (m[3] ?? '.').slice(1).padEnd(6, '0').slice(0, 6)
  const base = Date.parse(`${m[1]}T${m[2]}${m[4] ?? 'Z'}`)
  if (!Number.isFinite(base)) return undefined
  return `${new Date(base).toISOString().slice(0, 19)}.${frac}Z`
}

function resolveColumns(header: string[], mapping: Record<string, string>): Partial<Record<Field, number>> {
  const lower = header.map((h) => h.trim().toLowerCase())
  const out: Partial<Record<Field, number>> = {}
  for (const field of Object.keys(aliases) as Field[]) {
    const wanted = mapping[field]
    const idx =
      wanted !== undefined
        ? lower.indexOf(wanted.toLowerCase())
        : lower.findIndex((h) => aliases[field].includes(h))
    if (wanted !== undefined && idx < 0)
      throw new TickflowError(
        'TF_REPLAY_COLUMNS',
        `column ${JSON.stringify(wanted)} (for ${field}) is not in the file's header`,
      )
    if (idx >= 0) out[field] = idx
  }
  return out
}

/** A parsed record: a Trade, or the raw line when it cannot become one (sent on so the DLQ keeps it). */
export type ReplayRecord = { trade: Trade; eventMs: number } | { raw: string; key: string }

export async function* readTrades(o: ReplayOptions): AsyncGenerator<ReplayRecord> {
  const it = lines(o.file)
  const first = await it.next()
  if (first.done) return
  let format = o.format
  if (format === 'auto') {
    if (/^\d{16,20} \{/.test(first.value)) format = 'binance-feed'
    else if (first.value.trimStart().startsWith('{')) format = 'ndjson'
    else format = 'csv'
  }
  const make = (
    symbol: string | undefined,
    ts: string | undefined,
    price: string | undefined,
    size: string | undefined,
    id: string | undefined,
    raw: string,
  ): ReplayRecord => {
    const iso = ts === undefined ? undefined : normaliseTs(ts)
    const sym = symbol ?? o.symbol
    if (!sym || !iso || price === undefined || size === undefined) return { raw, key: sym ?? '' }
    const trade: Trade = {
      v: 1,
      type: 'trade',
      symbol: sym.toUpperCase(),
      ts: iso,
      price: price.trim(),
      size: size.trim(),
      source: o.source,
    }
    if (id) trade.id = id
    return { trade, eventMs: Date.parse(iso) }
  }
  if (format === 'binance-feed') {
    for await (const line of prepend(first.value, it)) {
      const frame = line.slice(line.indexOf(' ') + 1)
      let data: { e?: string; s?: string; T?: number; t?: number; p?: string; q?: string } | undefined
      try {
        data = (JSON.parse(frame) as { data?: typeof data }).data
      } catch {
        yield { raw: frame, key: '' }
        continue
      }
      if (data?.e !== 'trade') continue
      yield make(
        data.s,
        data.T === undefined ? undefined : String(data.T),
        data.p,
        data.q,
        data.t === undefined ? undefined : String(data.t),
        frame,
      )
    }
    return
  }
  if (format === 'ndjson') {
    for await (const line of prepend(first.value, it)) {
      let obj: Record<string, unknown>
      try {
        obj = JSON.parse(line) as Record<string, unknown>
      } catch {
        yield { raw: line, key: '' }
        continue
      }
      const get = (f: Field): string | undefined => {
        const name = o.columns[f] ?? aliases[f].find((a) => obj[a] !== undefined)
        const v = name === undefined ? undefined : obj[name]
        if (v === undefined || v === null) return undefined
        return typeof v === 'string'
          ? v
          : typeof v === 'number' || typeof v === 'boolean'
            ? String(v)
            : JSON.stringify(v)
      }
      yield make(get('symbol'), get('ts'), get('price'), get('size'), get('id'), line)
    }
    return
  }
  const header = parseCsvLine(first.value)[0] ?? []
  const cols = resolveColumns(header, o.columns)
  if (cols.ts === undefined || cols.price === undefined || cols.size === undefined)
    throw new TickflowError(
      'TF_REPLAY_COLUMNS',
      `cannot find ts, price and size columns in ${JSON.stringify(header)}: map them with --columns ts=…,price=…,size=…`,
    )
  for await (const line of it) {
    let row: string[]
    try {
      row = parseCsvLine(line)[0] ?? []
    } catch {
      yield { raw: line, key: '' }
      continue
    }
    const at = (f: Field): string | undefined => (cols[f] === undefined ? undefined : row[cols[f]])
    yield make(at('symbol'), at('ts'), at('price'), at('size'), at('id'), line)
  }
}

export const replay: SourceAdapter<ReplayOptions> = {
  name: 'replay',
  options: replayOptions,
  create(o, deps: SourceDeps): Source & { unparsed: number } {
    const state = { unparsed: 0 }
    return {
      name: 'replay',
      get unparsed() {
        return state.unparsed
      },
      async *batches() {
        let batch: Trade[] = []
        let firstEvent: number | undefined
        const startedAt = Date.now()
        let n = 0
        let lastProgress = 0
        for await (const rec of readTrades(o)) {
          if (deps.signal.aborted) break
          if (n++ < o.skip) continue
          if (!('trade' in rec)) {
            // Lines that cannot become a trade still go through the pipeline as invalid trades, so
            // the processor's validation dead-letters them instead of the replay dropping them.
            state.unparsed++
            batch.push({
              v: 1,
              type: 'trade',
              symbol: rec.key || 'UNPARSED',
              ts: '',
              price: '',
              size: '',
              source: o.source,
              // eslint-disable-next-line no-control-regex
              id: rec.raw.slice(0, 120).replace(/[\u0000-\u001f\u007f]/g, ' '),
            })
            continue
          }
          if (o.speed > 0) {
            firstEvent ??= rec.eventMs
            const due = startedAt + (rec.eventMs - firstEvent) / o.speed
            const wait = due - Date.now()
            if (wait > 5) {
              if (batch.length > 0) {
                yield batch
                batch = []
              }
              await new Promise((r) => setTimeout(r, wait))
            }
          }
          batch.push(rec.trade)
          deps.metrics.ticksIngested.inc({ source: o.source })
          deps.metrics.feedLastTickAt.set(o.source, Date.now())
          if (batch.length >= o.batchSize) {
            yield batch
            batch = []
          }
          if (o.progress && Date.now() - lastProgress > 250) {
            lastProgress = Date.now()
            const secs = (Date.now() - startedAt) / 1000
            process.stderr.write(
              `\rreplay ${o.file}: ${n.toLocaleString('en')} records, ${Math.round(n / Math.max(secs, 0.001)).toLocaleString('en')}/s`,
            )
          }
        }
        if (batch.length > 0) yield batch
        if (o.progress)
          process.stderr.write(
            `\rreplay ${o.file}: ${n.toLocaleString('en')} records, done${' '.repeat(20)}\n`,
          )
        deps.log.info({ file: o.file, records: n, unparsed: state.unparsed }, 'replay finished')
      },
    }
  },
}
