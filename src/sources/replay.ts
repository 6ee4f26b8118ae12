// Replays a recorded file as trades: CSV (or tab-, semicolon- or pipe-separated) or NDJSON trade files (column names mapped by --columns
// when the file uses other names), or a recorded Binance WebSocket feed (`<recv ns> <frame JSON>`
// per line, trade frames only). Gzip is detected from the file's magic bytes. --speed 0 replays as
// fast as possible, 1 in real time, N at N times real time, pacing on the file's event time.
// How timestamps and prices are read (zones, units, times of day, integer prices) is in
// replay-time.ts and replay-fields.ts, and documented with tested examples in docs/replay.md.
import { trackedReadStream } from '../metrics/file-progress.ts'
import { createGunzip } from 'node:zlib'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { parse } from 'csv-parse/sync'
import { z } from 'zod'
import { InputCutShortError, TickflowError, errorMessage } from '../errors.ts'
import { isoMicros, type Trade, type UnparsedRecord } from '../domain/trade.ts'
import { isDate, isTimeZone, timeReader, tsUnits } from './replay-time.ts'
import {
  aliases,
  parseDivisor,
  positional,
  priceReader,
  readConditions,
  resolveColumns,
  ReplayColumnsError,
  type Field,
} from './replay-fields.ts'
import type { Source, SourceAdapter, SourceDeps } from './types.ts'
import { RefusedFormatError, isGzipFile } from '../util/gzip.ts'
import { delimiterOf, type Delimiter } from '../util/delimiter.ts'

export const replayOptions = z.object({
  file: z.string().min(1),
  format: z.enum(['auto', 'csv', 'ndjson', 'binance-feed']).default('auto'),
  /** field=column pairs, e.g. {symbol: 'Name', ts: 'date'}, or 1-based positions for a file without a header. */
  columns: z.record(z.string(), z.string()).default({}),
  speed: z.number().nonnegative().default(0),
  source: z.string().default('replay'),
  /** Symbol for files without a symbol column. */
  symbol: z.string().optional(),
  // The processor's batch size: a file is a bulk load, and each send of the in-process bus becomes
  // one transaction when the store is PGlite on the same thread (docs/benchmarks.md).
  batchSize: z.number().int().positive().default(5000),
  progress: z.boolean().default(false),
  /** IANA zone of zone-less timestamps and of times of day. */
  timezone: z.string().refine(isTimeZone, 'unknown time zone').optional(),
  /** What numeric timestamps count (since the epoch, or since midnight with `date`). */
  tsUnit: z.enum(tsUnits).optional(),
  /** The timestamp column is a time of day on this date (YYYY-MM-DD) in `timezone`. */
  date: z.string().refine(isDate, 'expected YYYY-MM-DD').optional(),
  /** Integer prices are divided by this (exactly): 10000 reads 1892300 as 189.2300. */
  priceDivisor: z
    .string()
    .refine((d) => parseDivisor(d) !== undefined, 'expected a divisor such as 100 or 10000')
    .optional(),
})
export type ReplayOptions = z.output<typeof replayOptions>

function parseCsvLine(line: string, delimiter: Delimiter = ','): string[][] {
  // Most lines hold no quotes: a split gives what the parser would, without setting up a parser per
  // line (csv-parse was the largest item of a replay's CPU profile, docs/benchmarks.md).
  if (line !== '' && !/["\r\n]/.test(line)) return [line.split(delimiter)]
  const rows: unknown = parse(line, { relax_column_count: true, delimiter })
  return rows as string[][]
}

/** The header's cells; TF_REPLAY_COLUMNS when the first line is not CSV at all. */
function csvHeader(line: string, delimiter: Delimiter): string[] | undefined {
  try {
    return parseCsvLine(line, delimiter)[0]
  } catch (err) {
    throw new ReplayColumnsError(
      `the first line ${JSON.stringify(line.slice(0, 60))} is not a CSV header (${errorMessage(err).split(':')[0]}): give --format, or column positions with --columns`,
    )
  }
}

async function isGzip(file: string): Promise<boolean> {
  try {
    return await isGzipFile(file)
  } catch (err) {
    if (err instanceof RefusedFormatError) throw new TickflowError('TF_REPLAY_FILE', err.message)
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)
    throw new TickflowError('TF_REPLAY_FILE', `cannot read replay file ${file}: ${why}`)
  }
}

async function* prepend(first: string, rest: AsyncGenerator<string>): AsyncGenerator<string> {
  yield first
  yield* rest
}

async function* lines(file: string): AsyncGenerator<string> {
  const gzip = await isGzip(file)
  const raw = trackedReadStream(file)
  const input: Readable = gzip ? raw.pipe(createGunzip()) : raw
  const rl = createInterface({ input, crlfDelay: Infinity })
  let n = 0
  try {
    for await (const line of rl) {
      n++
      // A byte-order mark (spreadsheet exports on Windows write one) is not part of the first line.
      const text = n === 1 && line.startsWith('\uFEFF') ? line.slice(1) : line
      if (text.length > 0) yield text
    }
  } catch (err) {
    // A download cut short or a damaged disk: the lines read so far are good, the rest is lost.
    const what = gzip ? 'gzip data' : 'file'
    throw new InputCutShortError(
      `replay file ${file}: its ${what} ends or breaks after line ${n.toLocaleString('en')}: ${errorMessage(err)}`,
      { cause: err },
    )
  } finally {
    // A reader that stops early (the format check, a stop signal) must not leave the file open.
    rl.close()
    raw.destroy()
    input.destroy()
  }
}

/** JSON numbers keep their source text, so nanosecond epochs and prices stay exact. */
function parseJsonExact(line: string): unknown {
  return JSON.parse(line, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && context?.source !== undefined ? context.source : value,
  )
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

/**
 * A parsed record: a Trade, or the line when it cannot become one (sent on so the dead letters keep
 * it), with the reason naming what could not be read.
 */
export type ReplayRecord = { trade: Trade; eventMs: number } | { unparsed: UnparsedRecord }

const unparsed = (line: string, reason: string, key = ''): ReplayRecord => ({
  unparsed: { type: 'unparsed', key, line, reason },
})

/** The first field of a row that cannot be read, as a reason; undefined when all can. */
function unreadable(
  symbol: string | undefined,
  ts: string | undefined,
  iso: string | undefined,
  price: string | undefined,
  px: string | undefined,
  size: string | undefined,
  timeWhy: string | undefined,
): string | undefined {
  if (!symbol) return 'no symbol'
  if (ts === undefined) return 'no time'
  if (!iso) return timeWhy ?? `time ${JSON.stringify(ts.slice(0, 60))} cannot be read`
  if (price === undefined) return 'no price'
  if (px === undefined) return `price ${JSON.stringify(price.slice(0, 60))} cannot be read`
  if (size === undefined) return 'no size'
  return undefined
}

type Make = (
  symbol: string | undefined,
  ts: string | undefined,
  price: string | undefined,
  size: string | undefined,
  id: string | undefined,
  raw: string,
  conditions?: string,
  tape?: string,
) => ReplayRecord

function recordMaker(o: ReplayOptions, binanceFeed: boolean): Make {
  // The Binance feed's trade time is milliseconds since the epoch by its documentation.
  const readTs = timeReader(binanceFeed ? { tsUnit: 'ms' } : o)
  const readPrice = priceReader(binanceFeed ? undefined : o.priceDivisor)
  return (symbol, ts, price, size, id, raw, conditions, tape) => {
    const codes = readConditions(conditions, tape)
    const sym = symbol ?? o.symbol
    const iso = ts === undefined ? undefined : readTs(ts, sym?.toUpperCase())
    const px = price === undefined ? undefined : readPrice(price)
    const why = unreadable(sym, ts, iso, price, px, size, readTs.why)
    if (why || !sym || !iso || px === undefined || size === undefined)
      return unparsed(raw, why ?? 'unreadable', sym?.toUpperCase())
    const trade: Trade = {
      v: 1,
      type: 'trade',
      symbol: sym.toUpperCase(),
      ts: iso,
      price: px,
      size: size.trim(),
      source: o.source,
    }
    if (id) trade.id = id
    if (codes) trade.conditions = codes
    return { trade, eventMs: Date.parse(iso) }
  }
}

async function* binanceFeed(lineIt: AsyncGenerator<string>, make: Make): AsyncGenerator<ReplayRecord> {
  for await (const line of lineIt) {
    const frame = line.slice(line.indexOf(' ') + 1)
    let data: { e?: string; s?: string; T?: string; t?: string; p?: string; q?: string } | undefined
    try {
      data = (parseJsonExact(frame) as { data?: typeof data }).data
    } catch (err) {
      yield unparsed(frame, `not JSON: ${errorMessage(err)}`)
      continue
    }
    if (data?.e !== 'trade') continue
    yield make(data.s, data.T, data.p, data.q, data.t, frame)
  }
}

async function* ndjson(
  lineIt: AsyncGenerator<string>,
  o: ReplayOptions,
  make: Make,
): AsyncGenerator<ReplayRecord> {
  for await (const line of lineIt) {
    let obj: Record<string, unknown>
    try {
      obj = parseJsonExact(line) as Record<string, unknown>
    } catch (err) {
      yield unparsed(line, `not JSON: ${errorMessage(err)}`)
      continue
    }
    const get = (f: Field): string | undefined => {
      const name = o.columns[f] ?? aliases[f].find((a) => obj[a] !== undefined)
      const v = name === undefined ? undefined : obj[name]
      if (v === undefined || v === null) return undefined
      if (Array.isArray(v) && f === 'conditions') return v.map(String).join(' ')
      return typeof v === 'string' ? v : typeof v === 'boolean' ? String(v) : JSON.stringify(v)
    }
    yield make(
      get('symbol'),
      get('ts'),
      get('price'),
      get('size'),
      get('id'),
      line,
      get('conditions'),
      get('tape'),
    )
  }
}

async function* csv(
  first: string,
  rest: AsyncGenerator<string>,
  o: ReplayOptions,
  make: Make,
): AsyncGenerator<ReplayRecord> {
  // With column positions the file has no header: its first line is already a trade.
  const headerless = positional(o.columns)
  const delimiter = delimiterOf(first)
  const cols = resolveColumns(headerless ? undefined : (csvHeader(first, delimiter) ?? []), o.columns)
  if (cols.symbol === undefined && o.symbol === undefined)
    throw new ReplayColumnsError(
      'the file has no symbol column: give the symbol with --symbol SYMBOL, or map its column with --columns symbol=…',
    )
  for await (const line of headerless ? prepend(first, rest) : rest) {
    let row: string[]
    try {
      row = parseCsvLine(line, delimiter)[0] ?? []
    } catch (err) {
      yield unparsed(line, `not CSV: ${errorMessage(err)}`)
      continue
    }
    const at = (f: Field): string | undefined => (cols[f] === undefined ? undefined : row[cols[f]])
    yield make(at('symbol'), at('ts'), at('price'), at('size'), at('id'), line, at('conditions'), at('tape'))
  }
}

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
  const make = recordMaker(o, format === 'binance-feed')
  if (format === 'binance-feed') yield* binanceFeed(prepend(first.value, it), make)
  else if (format === 'ndjson') yield* ndjson(prepend(first.value, it), o, make)
  else yield* csv(first.value, it, o, make)
}

/**
 * Reads the file up to its first trade, so a file the replay cannot read (missing, no columns, a
 * time without a zone) is refused with one line before anything else starts.
 */
export async function checkReplayFile(o: ReplayOptions): Promise<void> {
  let n = 0
  for await (const rec of readTrades(o)) if ('trade' in rec || ++n >= 1000) break
}

/** The records until the file is cut short; the error is kept in `cut` instead of thrown. */
async function* untilCut<T>(
  records: AsyncGenerator<T>,
  cut: { err?: InputCutShortError },
): AsyncGenerator<T> {
  try {
    yield* records
  } catch (err) {
    if (!(err instanceof InputCutShortError)) throw err
    cut.err = err
  }
}

export const replay: SourceAdapter<ReplayOptions> = {
  name: 'replay',
  summary: 'trades read from a file (tickflow replay FILE; --speed and the replay options)',
  options: replayOptions,
  create(o, deps: SourceDeps): Source & { unparsed: number } {
    const state = { unparsed: 0, withConditions: 0 }
    return {
      name: 'replay',
      check: () => checkReplayFile(o),
      get unparsed() {
        return state.unparsed
      },
      async *batches() {
        let batch: (Trade | UnparsedRecord)[] = []
        let firstEvent: number | undefined
        const startedAt = Date.now()
        let n = 0
        let lastProgress = 0
        // Trades read since the metrics were last told (once per batch, not once per trade).
        let read = 0
        const counted = (): void => {
          if (read === 0) return
          deps.metrics.ticksIngested.inc({ source: o.source }, read)
          deps.metrics.feedLastTickAt.set(o.source, Date.now())
          read = 0
        }
        const cut: { err?: InputCutShortError } = {}
        for await (const rec of untilCut(readTrades(o), cut)) {
          if (deps.signal.aborted) break
          n++
          // Reading is the background work of a replay: every 500 records the event loop turns, so
          // the processor's database replies in the same process are not kept waiting.
          if (n % 500 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
          if ('unparsed' in rec) {
            // Lines that cannot become a trade still go through the pipeline, so the processor
            // dead-letters them (unparsed_record, with the whole line) instead of the replay
            // dropping them.
            state.unparsed++
            batch.push(rec.unparsed)
            continue
          }
          if (o.speed > 0) {
            firstEvent ??= rec.eventMs
            const due = startedAt + (rec.eventMs - firstEvent) / o.speed
            const wait = due - Date.now()
            if (wait > 5) {
              if (batch.length > 0) {
                counted()
                yield batch
                batch = []
              }
              await new Promise((r) => setTimeout(r, wait))
            }
          }
          if (rec.trade.conditions) state.withConditions++
          batch.push(rec.trade)
          read++
          if (batch.length >= o.batchSize) {
            counted()
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
        counted()
        if (batch.length > 0) yield batch
        if (o.progress)
          process.stderr.write(
            `\rreplay ${o.file}: ${n.toLocaleString('en')} records, done${' '.repeat(20)}\n`,
          )
        deps.log.info(
          { file: o.file, records: n, unparsed: state.unparsed, withConditions: state.withConditions },
          cut.err ? 'replay cut short' : 'replay finished',
        )
        // Thrown once the records before it were handed over (the pump sends them first).
        if (cut.err) throw cut.err
      },
    }
  },
}
