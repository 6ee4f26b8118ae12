// Indicators on the live WebSocket: `/api/v1/stream?symbols=AAPL&indicators=sma(20)@1m,macd@1m`.
// When a bar of a subscribed symbol and interval changes (a new trade, or a late one in an older
// bar), the indicator is recomputed from that bar to the latest one and the changed values are
// sent as {"type":"indicator","data":{symbol, interval, indicator, rows:[{bucket, …values}]}}.
// Updates coalesce: while one recomputation runs, further bar changes only move its start earlier.
import type { WebSocket } from 'ws'
import type { Db } from '../store/db.ts'
import { BadRequestError } from '../errors.ts'
import { INTERVALS } from '../domain/types.ts'
import { INDICATOR_NAMES, OUTPUTS, type IndicatorSpec } from '../domain/indicators.ts'
import type { LiveHub } from './live.ts'
import { IndicatorReader, parseIndicator, type IndicatorParams } from './indicators.ts'

export interface StreamedIndicator {
  /** As the client wrote it, e.g. `sma(20)@1m`: the key of its messages. */
  label: string
  interval: string
  spec: IndicatorSpec
}

const FORM = /^([a-z]+)(?:\(([0-9.,]*)\))?@([0-9a-z]+)$/
/** The positional parameters of each indicator inside the parentheses. */
const POSITIONAL: Record<string, (keyof IndicatorParams)[]> = {
  sma: ['period'],
  ema: ['period'],
  rsi: ['period'],
  volatility: ['period'],
  bollinger: ['period', 'k'],
  macd: ['fast', 'slow', 'signal'],
  vwap: [],
}
const HELP = `name(params)@interval, e.g. sma(20)@1m, bollinger(20,2)@1d, macd(12,26,9)@5m, vwap@1m`
const MAX = 10

/** `indicators=sma(20)@1m,…` → the indicators; a bad one is a 400 naming `indicators`. */
export function parseStreamIndicators(v: string): StreamedIndicator[] {
  // Commas separate indicators, except inside parentheses.
  const items = v.split(/,(?![^(]*\))/).map((s) => s.trim())
  if (items.length > MAX)
    throw new BadRequestError('indicators', `indicators lists ${items.length}; at most ${MAX}`)
  return items.map((label) => {
    const m = FORM.exec(label)
    const fail = (why: string) =>
      new BadRequestError('indicators', `indicators: ${JSON.stringify(label)} ${why}`)
    if (!m) throw fail(`is not ${HELP}`)
    const [, name, args, interval] = m as unknown as [string, string, string | undefined, string]
    if (!(INDICATOR_NAMES as readonly string[]).includes(name))
      throw fail(`names no indicator: use one of ${INDICATOR_NAMES.join(', ')}`)
    if (!(INTERVALS as readonly string[]).includes(interval))
      throw fail(`has no interval ${interval}: use one of ${INTERVALS.join(', ')}`)
    const values = args ? args.split(',') : []
    const names = POSITIONAL[name]!
    if (values.length > names.length) throw fail(`takes at most ${names.length} parameters`)
    const params: IndicatorParams = { name }
    values.forEach((x, i) => {
      if (!/^\d+(\.\d+)?$/.test(x)) throw fail(`has a parameter ${JSON.stringify(x)} that is not a number`)
      Object.assign(params, { [names[i]!]: Number(x) })
    })
    try {
      return { label, interval, spec: parseIndicator(params) }
    } catch (err) {
      throw err instanceof BadRequestError ? fail(`is invalid: ${err.message}`) : err
    }
  })
}

const END = '9999-12-31T00:00:00Z'

/** Sends indicator updates for the bar changes of `symbols` (null = all) until the socket closes. */
export function streamIndicators(
  socket: WebSocket,
  hub: LiveHub,
  db: Db,
  symbols: Set<string> | null,
  indicators: StreamedIndicator[],
  onError: (err: unknown) => void = () => {},
): void {
  const intervals = new Set(indicators.map((i) => i.interval))
  // symbol + interval → the earliest changed bucket not yet recomputed
  const pending = new Map<string, { symbol: string; interval: string; from: string }>()
  let running = false
  const run = async (): Promise<void> => {
    running = true
    try {
      while (pending.size > 0 && socket.readyState === socket.OPEN) {
        const [key, job] = pending.entries().next().value!
        pending.delete(key)
        for (const ind of indicators) {
          if (ind.interval !== job.interval) continue
          const reader = new IndicatorReader(db, job.symbol, job.interval, ind.spec)
          const meta = { symbol: job.symbol, interval: job.interval, columns: OUTPUTS[ind.spec.name] }
          const values = await reader.values(job.from, END)
          const rows: Record<string, string | null>[] = []
          const from = Date.parse(job.from)
          for (const [bucket, v] of values) {
            if (Date.parse(bucket) < from) continue
            const row: Record<string, string | null> = { bucket }
            meta.columns.forEach((c, i) => (row[c] = v[i] ?? null))
            rows.push(row)
          }
          if (rows.length === 0 || socket.readyState !== socket.OPEN) continue
          const data = { symbol: job.symbol, interval: job.interval, indicator: ind.label, rows }
          socket.send(JSON.stringify({ type: 'indicator', data }))
        }
      }
    } catch (err) {
      onError(err)
    } finally {
      running = false
    }
  }
  const unsubscribe = hub.subscribe(symbols, (events) => {
    for (const e of events) {
      if (!e.bar || !intervals.has(e.bar.interval)) continue
      const key = `${e.symbol} ${e.bar.interval}`
      const job = pending.get(key)
      if (!job) pending.set(key, { symbol: e.symbol, interval: e.bar.interval, from: e.bar.bucket })
      else if (Date.parse(e.bar.bucket) < Date.parse(job.from)) job.from = e.bar.bucket
    }
    if (!running && pending.size > 0) void run()
  })
  socket.on('close', unsubscribe)
  socket.on('error', unsubscribe)
}
