// The columns and prices of a replay file: which column holds which field (by header name, alias or
// position), and integer prices scaled by --price-divisor with exact decimal arithmetic.
import { ConfigError, TickflowError } from '../errors.ts'
import { isDate, isTimeZone, tsUnits } from './replay-time.ts'
import { planOfTape, qualify } from '../domain/conditions.ts'

export type Field = 'symbol' | 'ts' | 'price' | 'size' | 'id' | 'conditions' | 'tape'
export const aliases: Record<Field, string[]> = {
  symbol: ['symbol', 'ticker', 'sym', 's', 'name'],
  ts: ['ts', 'timestamp', 'time', 'trade_ts_ms', 'trade_time', 't', 'datetime', 'date'],
  price: ['price', 'p', 'px', 'close'],
  size: ['size', 'qty', 'quantity', 'volume', 'q', 'amount'],
  id: ['id', 'trade_id', 'tradeid'],
  conditions: ['conditions', 'condition', 'sale_conditions', 'sale_condition', 'trade_conditions'],
  tape: ['tape'],
}

export class ReplayColumnsError extends TickflowError {
  constructor(message: string) {
    super('TF_REPLAY_COLUMNS', message)
    this.name = 'ReplayColumnsError'
  }
}

/** True when --columns gives positions (`ts=1,price=2`): the file has no header line. */
export function positional(mapping: Record<string, string>): boolean {
  const values = Object.values(mapping)
  const numeric = values.filter((v) => /^\d+$/.test(v)).length
  if (numeric > 0 && numeric < values.length)
    throw new ReplayColumnsError(
      '--columns gives some columns by name and some by position: use names for a file with a header, positions (from 1) for a file without one',
    )
  return numeric > 0
}

const looksLikeData = (cell: string): boolean => /^[\d\s.,:+\-TZ]+$/i.test(cell.trim()) && /\d/.test(cell)

/** Field → column index, from --columns (names or 1-based positions) or the header's aliases. */
export function resolveColumns(
  header: string[] | undefined,
  mapping: Record<string, string>,
): Partial<Record<Field, number>> {
  const out: Partial<Record<Field, number>> = {}
  if (header === undefined) {
    for (const [field, pos] of Object.entries(mapping)) {
      if (!(field in aliases))
        throw new ReplayColumnsError(`--columns: unknown field ${JSON.stringify(field)}`)
      if (Number(pos) < 1) throw new ReplayColumnsError(`--columns: positions count from 1 (${field}=${pos})`)
      out[field as Field] = Number(pos) - 1
    }
  } else {
    const lower = header.map((h) => h.trim().toLowerCase())
    for (const field of Object.keys(aliases) as Field[]) {
      const wanted = mapping[field]
      const idx =
        wanted !== undefined
          ? lower.indexOf(wanted.toLowerCase())
          : lower.findIndex((h) => aliases[field].includes(h))
      if (wanted !== undefined && idx < 0)
        throw new ReplayColumnsError(
          `column ${JSON.stringify(wanted)} (for ${field}) is not in the file's header`,
        )
      if (idx >= 0) out[field] = idx
    }
  }
  if (out.ts === undefined || out.price === undefined || out.size === undefined) {
    const hint =
      header?.some(looksLikeData) === true
        ? `the first line ${JSON.stringify(header.join(','))} looks like data, not a header: give column positions (from 1), e.g. --columns ts=1,price=2,size=3`
        : `cannot find ts, price and size columns in ${JSON.stringify(header ?? [])}: map them with --columns ts=…,price=…,size=…`
    throw new ReplayColumnsError(hint)
  }
  return out
}

/** N = 2^a·5^b → the decimals of price/N (max(a, b)) and the integer 10^decimals/N; else undefined. */
export function parseDivisor(n: string): { decimals: number; multiplier: bigint } | undefined {
  if (!/^[1-9]\d{0,17}$/.test(n)) return undefined
  let rest = BigInt(n)
  let twos = 0
  let fives = 0
  for (; rest % 2n === 0n; twos++) rest /= 2n
  for (; rest % 5n === 0n; fives++) rest /= 5n
  if (rest !== 1n) return undefined
  const decimals = Math.max(twos, fives)
  return { decimals, multiplier: 10n ** BigInt(decimals) / BigInt(n) }
}

/**
 * A reader of one file's prices: with a divisor, integer prices become exact decimals with the
 * divisor's number of decimals (1892300 / 10000 → "189.2300"); a non-integer first price is refused.
 */
export function priceReader(divisor: string | undefined): (raw: string) => string | undefined {
  const d = divisor === undefined ? undefined : parseDivisor(divisor)
  if (divisor !== undefined && d === undefined) throw new ConfigError(divisorMessage(divisor))
  let first = true
  return (raw: string): string | undefined => {
    const v = raw.trim()
    const isFirst = first
    first = false
    if (d === undefined) return v
    if (!/^\d+$/.test(v)) {
      if (isFirst)
        throw new TickflowError(
          'TF_REPLAY_PRICE',
          `price ${JSON.stringify(v)} is not an integer: --price-divisor applies to files whose prices are integers`,
        )
      return undefined
    }
    if (d.decimals === 0) return (BigInt(v) * d.multiplier).toString()
    const digits = (BigInt(v) * d.multiplier).toString().padStart(d.decimals + 1, '0')
    return `${digits.slice(0, -d.decimals)}.${digits.slice(-d.decimals)}`
  }
}

const divisorMessage = (n: string): string =>
  `invalid --price-divisor ${JSON.stringify(n)}: a positive integer whose quotients are exact decimals (10, 100, 10000, 256, …)`

/** The command-line flags of the replay's time and price reading (node:util parseArgs form). */
export const replayFlags = {
  timezone: { type: 'string' },
  'ts-unit': { type: 'string' },
  date: { type: 'string' },
  'price-divisor': { type: 'string' },
} as const

/** Replay source options from those flags; a bad value is one ConfigError line naming the flag. */
export function replayFlagOptions(flags: Record<string, string | undefined>): Record<string, unknown> {
  const timezone = flags.timezone
  const tsUnit = flags['ts-unit']
  const date = flags.date
  const divisor = flags['price-divisor']
  if (timezone !== undefined && !isTimeZone(timezone))
    throw new ConfigError(
      `invalid --timezone ${JSON.stringify(timezone)}: not a known time zone (an IANA name such as America/New_York, or UTC)`,
    )
  if (tsUnit !== undefined && !(tsUnits as readonly string[]).includes(tsUnit))
    throw new ConfigError(`invalid --ts-unit ${JSON.stringify(tsUnit)}: one of ${tsUnits.join(', ')}`)
  if (date !== undefined) {
    if (!isDate(date)) throw new ConfigError(`invalid --date ${JSON.stringify(date)}: expected YYYY-MM-DD`)
    if (timezone === undefined)
      throw new ConfigError('--date needs --timezone: a time of day is read in a time zone')
  }
  if (divisor !== undefined && parseDivisor(divisor) === undefined)
    throw new ConfigError(divisorMessage(divisor))
  return { timezone, tsUnit, date, priceDivisor: divisor }
}

/**
 * A row's sale conditions: codes separated by spaces, commas, semicolons or `|`. A code written with
 * its plan (`UTP:I`, `CTA:M`) or a provider (`finnhub:12`) is kept; a bare SIP code is qualified by
 * the row's tape (A, B: CTA; C: UTP). A bare code with no tape cannot be read without a guess (the
 * same letter means different things on the two tapes): the replay stops with one line.
 */
export function readConditions(cell: string | undefined, tape: string | undefined): string[] | undefined {
  const codes = (cell ?? '').split(/[\s,;|]+/).filter((c) => c !== '')
  if (codes.length === 0) return undefined
  const plan = planOfTape(tape?.trim().toUpperCase())
  return codes.map((c) => {
    if (/^[A-Za-z_]+:./.test(c)) return c
    if (plan === undefined)
      throw new ReplayColumnsError(
        `sale condition ${JSON.stringify(c)} has no tape: add a tape column (A, B or C), or write the codes with their plan (UTP:${c}, CTA:${c})`,
      )
    return qualify(c, plan, '')
  })
}
