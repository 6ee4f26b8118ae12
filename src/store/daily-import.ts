// Loads a file of daily OHLCV bars (date, open, high, low, close, volume, symbol — the S&P 500 file
// layout, or mapped with --columns) straight into bars as interval 1d, origin 'import'. Rows that
// cannot be a bar (a missing or non-positive price, high below low) become dead letters with the
// file name as topic and the line number as offset, so re-running the import is idempotent.
import { basename } from 'node:path'
import { createInterface } from 'node:readline'
import { trackedReadStream } from '../metrics/file-progress.ts'
import { createGunzip } from 'node:zlib'
import type { Readable } from 'node:stream'
import { InputCutShortError, TickflowError, errorMessage } from '../errors.ts'
import type { Db } from './db.ts'
import { RefusedFormatError, isGzipFile } from '../util/gzip.ts'
import { delimiterOf, type Delimiter } from '../util/delimiter.ts'
import { isSymbol } from '../domain/symbol.ts'

export interface DailyImportResult {
  bars: number
  deadLetters: number
}

const DECIMAL = /^(0|[1-9]\d{0,11})(\.\d{1,10})?$/
const aliases: Record<string, string[]> = {
  date: ['date', 'day', 'ts', 'timestamp'],
  open: ['open', 'o'],
  high: ['high', 'h'],
  low: ['low', 'l'],
  close: ['close', 'c'],
  volume: ['volume', 'v', 'vol'],
  symbol: ['symbol', 'name', 'ticker'],
}

interface Row {
  line: number
  raw: string
  symbol: string
  date: string
  open: string
  high: string
  low: string
  close: string
  volume: string
}

/** The reason a row cannot be a bar, or undefined when it can. */
export function rejectDailyRow(r: Row): { reason: string; detail: string } | undefined {
  const prices = { open: r.open, high: r.high, low: r.low, close: r.close }
  for (const [name, v] of Object.entries(prices)) {
    if (v === '') return { reason: 'missing_price', detail: `${name} is empty` }
    if (!DECIMAL.test(v) || /^0(\.0*)?$/.test(v))
      return { reason: 'bad_price', detail: `${name} ${JSON.stringify(v)}` }
  }
  if (!/^\d{1,15}(\.\d+)?$/.test(r.volume))
    return { reason: 'bad_size', detail: `volume ${JSON.stringify(r.volume)}` }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(r.date) || Number.isNaN(Date.parse(r.date)))
    return { reason: 'bad_timestamp', detail: `date ${JSON.stringify(r.date)}` }
  if (!isSymbol(r.symbol)) return { reason: 'bad_symbol', detail: `symbol ${JSON.stringify(r.symbol)}` }
  const [o, h, l, c] = [r.open, r.high, r.low, r.close].map(Number) as [number, number, number, number]
  if (h < l || h < Math.max(o, c) || l > Math.min(o, c))
    return {
      reason: 'inconsistent_bar',
      detail: `high ${r.high} low ${r.low} open ${r.open} close ${r.close}`,
    }
  return undefined
}

/** Whether the daily-bars file is gzip-compressed; TF_REPLAY_FILE for a format it cannot read. */
export async function isGzipDailyFile(file: string): Promise<boolean> {
  try {
    return await isGzipFile(file)
  } catch (err) {
    if (err instanceof RefusedFormatError) throw new TickflowError('TF_REPLAY_FILE', err.message)
    throw err
  }
}

async function input(file: string): Promise<Readable> {
  const gzip = await isGzipDailyFile(file)
  const s = trackedReadStream(file)
  return gzip ? s.pipe(createGunzip()) : s
}

/** Where each field's column is in a header line, or TF_REPLAY_COLUMNS naming the one missing. */
function columnIndex(
  headerLine: string,
  delimiter: Delimiter,
  columns: Record<string, string>,
): Record<string, number> {
  const header = headerLine.split(delimiter).map((h) => h.trim().toLowerCase())
  const idx: Record<string, number> = {}
  for (const [field, names] of Object.entries(aliases)) {
    const wanted = columns[field]?.toLowerCase()
    const i = wanted !== undefined ? header.indexOf(wanted) : header.findIndex((h) => names.includes(h))
    if (i < 0)
      throw new TickflowError(
        'TF_REPLAY_COLUMNS',
        `no ${field} column in ${JSON.stringify(header)}: map it with --columns ${field}=…`,
      )
    idx[field] = i
  }
  return idx
}

export async function importDailyBars(
  db: Db,
  file: string,
  columns: Record<string, string> = {},
  batchSize = 5000,
): Promise<DailyImportResult> {
  const lines = createInterface({ input: await input(file), crlfDelay: Infinity })[Symbol.asyncIterator]()
  const topic = `file:${basename(file)}`
  let idx: Record<string, number> | undefined
  let delimiter: Delimiter = ','
  let line = 0
  let rows: Row[] = []
  const result: DailyImportResult = { bars: 0, deadLetters: 0 }
  const flush = async (): Promise<void> => {
    if (rows.length === 0) return
    const r = await writeDailyBatch(db, topic, rows)
    result.bars += r.bars
    result.deadLetters += r.deadLetters
    rows = []
  }
  for (;;) {
    let next: IteratorResult<string>
    try {
      next = await lines.next()
    } catch (err) {
      // A file cut short: the rows read before it are imported, then the import fails with why.
      await flush()
      throw new InputCutShortError(
        `replay file ${file}: it ends or breaks after line ${line.toLocaleString('en')}: ${errorMessage(err)}; the ${result.bars.toLocaleString('en')} daily bars before it were imported`,
        { cause: err },
      )
    }
    if (next.done) break
    const text = next.value
    line++
    if (!idx) {
      delimiter = delimiterOf(text)
      idx = columnIndex(text, delimiter, columns)
      continue
    }
    if (text.trim() === '') continue
    const cells = text.split(delimiter)
    const at = (f: string): string => (cells[idx![f]!] ?? '').trim()
    rows.push({
      line,
      raw: text,
      symbol: at('symbol').toUpperCase(),
      date: at('date'),
      open: at('open'),
      high: at('high'),
      low: at('low'),
      close: at('close'),
      volume: at('volume'),
    })
    if (rows.length >= batchSize) await flush()
  }
  await flush()
  return result
}

async function writeDailyBatch(db: Db, topic: string, rows: Row[]): Promise<DailyImportResult> {
  const good: Row[] = []
  const bad: (Row & { reason: string; detail: string })[] = []
  for (const r of rows) {
    const why = rejectDailyRow(r)
    if (why) bad.push({ ...r, ...why })
    else good.push(r)
  }
  await db.transaction(async (tx) => {
    if (good.length > 0)
      await tx.query(
        `insert into bars (symbol, interval, bucket, open, high, low, close, volume, pv, vwap, trades,
                           open_ts, open_seq, close_ts, close_seq, origin)
         select s, '1d', b, o, h, l, c, v, 0, null, 0, b, 0, b, 0, 'import'
         from (select s, d::date::timestamp at time zone (select value from settings where key = 'bars_timezone') as b, o, h, l, c, v
               from unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[])
                    as u(s, d, o, h, l, c, v)) x
         on conflict (symbol, interval, bucket) do update set
           open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
           volume = excluded.volume, origin = 'import', updated_at = now()
         where bars.origin = 'import'`,
        [
          good.map((r) => r.symbol),
          good.map((r) => r.date),
          good.map((r) => r.open),
          good.map((r) => r.high),
          good.map((r) => r.low),
          good.map((r) => r.close),
          good.map((r) => r.volume),
        ],
      )
    if (bad.length > 0)
      await tx.query(
        `insert into dead_letters (reason, detail, topic, partition, "offset", key, payload)
         select r, d, $3, 0, o, k, convert_to(p, 'UTF8')
         from unnest($1::text[], $2::text[], $4::bigint[], $5::text[], $6::text[]) as u(r, d, o, k, p)
         on conflict (topic, partition, "offset") do nothing`,
        [
          bad.map((b) => b.reason),
          bad.map((b) => b.detail),
          topic,
          bad.map((b) => b.line),
          bad.map((b) => b.symbol),
          bad.map((b) => b.raw),
        ],
      )
  })
  return { bars: good.length, deadLetters: bad.length }
}
