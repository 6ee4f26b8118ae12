// How a replay reads the timestamps of one file. Nothing is guessed silently: a local time without
// a zone needs --timezone, a number needs a unit (--ts-unit, or a magnitude that can only be one
// unit), a time of day needs --date and --timezone. Questions about the file's format are settled at
// its first value and refused there with one line; a later value that does not fit the format
// becomes undefined (the row is dead-lettered, never dropped or misread).
//
// Local times are converted with Temporal (temporal-polyfill, zone rules from the runtime's ICU data)
// and whole nanoseconds in BigInt, so results are exact to the microsecond; sub-microsecond digits
// are truncated, as the store keeps microseconds.
import { Temporal } from 'temporal-polyfill'
import { TickflowError } from '../errors.ts'

export const tsUnits = ['s', 'ms', 'us', 'ns'] as const
export type TsUnit = (typeof tsUnits)[number]

export interface TimeSettings {
  /** IANA zone of local times (zone-less timestamps and times of day). */
  timezone?: string
  /** What a numeric timestamp counts: since the epoch, or since midnight with `date`. */
  tsUnit?: TsUnit
  /** YYYY-MM-DD: the timestamp column is a time of day on this date in `timezone`. */
  date?: string
}

const unitNs: Record<TsUnit, bigint> = { s: 1_000_000_000n, ms: 1_000_000n, us: 1_000n, ns: 1n }
/** Integer digits of an epoch count between 2001-09-09 and 2286-11-20, per unit. */
const digitsOfUnit: Record<number, TsUnit> = { 10: 's', 13: 'ms', 16: 'us', 19: 'ns' }
const dayNs = 86_400n * 1_000_000_000n

export class ReplayTimeError extends TickflowError {
  constructor(message: string) {
    super('TF_REPLAY_TIME', message)
    this.name = 'ReplayTimeError'
  }
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** A real calendar date written YYYY-MM-DD. */
export function isDate(s: string): boolean {
  try {
    return /^\d{4}-\d{2}-\d{2}$/.test(s) && Temporal.PlainDate.from(s, { overflow: 'reject' }) !== undefined
  } catch {
    return false
  }
}

/** "1723161256.5" in unit s → 1723161256500000000n; digits below a nanosecond are truncated. */
function countToNs(value: string, unit: TsUnit): bigint {
  const [int, frac = ''] = value.split('.')
  const scale = 10n ** BigInt(frac.length)
  return BigInt(int!) * unitNs[unit] + (frac ? (BigInt(frac) * unitNs[unit]) / scale : 0n)
}

/** Nanoseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, truncated). */
export function isoFromNs(ns: bigint): string {
  const micros = ns >= 0n ? ns / 1000n : -((-ns + 999n) / 1000n)
  const ms = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n)
  const sub = micros - ms * 1000n
  return `${new Date(Number(ms)).toISOString().slice(0, 23)}${String(sub).padStart(3, '0')}Z`
}

const isoPattern =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i
const timeOfDayPattern = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?$/

/**
 * A wall-clock second in a zone, in UTC (`YYYY-MM-DDTHH:MM:SS`): one second, or two when clocks went
 * back over it (the repeated hour: the first pass, then the second), or none when they went forward
 * over it.
 */
type ZoneSecond = string | { earlier: string; later: string } | { skipped: true }

/**
 * Wall-clock time in a zone → its second in UTC. Cached per second: a file has many trades per
 * second, and zone rules change only at whole seconds. Throws a RangeError for an impossible date.
 */
function secondInZone(
  cache: Map<string, ZoneSecond>,
  day: string,
  h: number,
  m: number,
  s: number,
  zone: string,
): ZoneSecond {
  const key = `${zone} ${day} ${h}:${m}:${s}`
  let second = cache.get(key)
  if (second === undefined) {
    const [year, month, dayOfMonth] = day.split('-').map(Number) as [number, number, number]
    const local = Temporal.PlainDateTime.from(
      { year, month, day: dayOfMonth, hour: h, minute: m, second: s },
      { overflow: 'reject' },
    )
    const utc = (d: 'earlier' | 'later'): Temporal.ZonedDateTime =>
      local.toZonedDateTime(zone, { disambiguation: d })
    const [earlier, later] = [utc('earlier'), utc('later')]
    const text = (z: Temporal.ZonedDateTime): string => isoFromNs(z.epochNanoseconds).slice(0, 19)
    // The two readings differ only where clocks change: a repeated time has both on its clock, a
    // skipped one neither.
    second =
      earlier.epochNanoseconds === later.epochNanoseconds
        ? text(earlier)
        : earlier.toPlainDateTime().equals(local)
          ? { earlier: text(earlier), later: text(later) }
          : { skipped: true }
    if (cache.size > 100_000) cache.clear()
    cache.set(key, second)
  }
  return second
}

/**
 * How far a time of the repeated hour, read as its first pass, may lie behind the row before it
 * (of the same symbol) and still be the first pass: a recording a little out of order. Further
 * behind, it is the second pass. A time that fits both is the first pass.
 */
const OUT_OF_ORDER_MS = 5 * 60_000

/**
 * A time within a whole second → the ISO form isoFromNs gives (microseconds, truncated), built from
 * the second's `YYYY-MM-DDTHH:MM:SS` in UTC: the fraction never changes the second, so no
 * arithmetic per trade is needed.
 */
function withMicros(second: string, micros: string): string {
  return `${second}.${micros}Z`
}

function fracNs(frac: string | undefined): bigint {
  return frac ? BigInt(frac.padEnd(9, '0')) : 0n
}

/** `±HH`, `±HHMM`, `±HH:MM` → the `±HH:MM` form Temporal takes as a fixed-offset zone. */
function offsetZone(offset: string): string {
  if (/^z$/i.test(offset)) return 'UTC'
  const digits = offset.slice(1).replace(':', '').padEnd(4, '0')
  return `${offset[0]}${digits.slice(0, 2)}:${digits.slice(2)}`
}

/**
 * A reader of one file's timestamps: raw value → ISO UTC with microseconds, or undefined when the
 * value does not fit the file's format (`why` then says what is wrong with it, when more can be
 * said than that it cannot be read). Throws ReplayTimeError at the first value when the format
 * itself is not clear from the value and the settings. `key` (the row's symbol) lets a local time
 * the clocks repeated be read by the file's order: the first pass, unless that would put it well
 * before the row before it of the same key.
 */
export interface TimeReader {
  (raw: string, key?: string): string | undefined
  why: string | undefined
}

export function timeReader(settings: TimeSettings): TimeReader {
  const cache = new Map<string, ZoneSecond>()
  // Each key's last local time read, as ISO (parsed only when a repeated time needs it).
  const lastLocal = new Map<string, string>()
  let unit = settings.tsUnit
  let first = true
  let why: string | undefined
  const refuse = (message: string): undefined => {
    if (first) throw new ReplayTimeError(message)
    return undefined
  }
  /** The row's time from its local second: a repeated one by the order of the rows. */
  const local = (
    second: ZoneSecond,
    micros: string,
    raw: string,
    zone: string,
    key: string,
  ): string | undefined => {
    if (typeof second === 'string') {
      const iso = withMicros(second, micros)
      lastLocal.set(key, iso)
      return iso
    }
    if ('skipped' in second) {
      why = `time ${JSON.stringify(raw)} does not exist in ${zone}: the clocks went forward over it`
      return undefined
    }
    const earlier = withMicros(second.earlier, micros)
    const before = lastLocal.get(key)
    const iso =
      before !== undefined && Date.parse(before) - Date.parse(earlier) > OUT_OF_ORDER_MS
        ? withMicros(second.later, micros)
        : earlier
    lastLocal.set(key, iso)
    return iso
  }
  const epoch = (v: string): string | undefined => {
    if (unit === undefined) {
      const digits = v.split('.')[0]!.length
      const inferred = digitsOfUnit[digits]
      if (inferred === undefined)
        return refuse(
          `numeric timestamp ${JSON.stringify(v)} (${digits} digits) is not clearly seconds, milliseconds, microseconds or nanoseconds since 1970: say which with --ts-unit s|ms|us|ns, or give --date and --timezone if it is a time of day`,
        )
      unit = inferred
    }
    return isoFromNs(countToNs(v, unit))
  }
  const zoned = (v: string, key: string): string | undefined => {
    const m = isoPattern.exec(v)
    if (!m) return undefined
    const [, day, h = '0', mi = '0', s = '0', frac, offset] = m
    const zone = offset !== undefined ? offsetZone(offset) : settings.timezone
    if (zone === undefined)
      return refuse(
        `timestamp ${JSON.stringify(v)} has no time zone: say which zone it is in with --timezone ZONE (an IANA name such as America/New_York, or UTC)`,
      )
    let second: ZoneSecond
    try {
      second = secondInZone(cache, day!, +h, +mi, +s, zone)
    } catch {
      return undefined // an impossible date
    }
    return local(second, (frac ?? '').slice(0, 6).padEnd(6, '0'), v, zone, key)
  }
  const timeOfDay = (v: string, key: string): string | undefined => {
    let ns: bigint
    const m = timeOfDayPattern.exec(v)
    if (m) ns = ((BigInt(m[1]!) * 60n + BigInt(m[2]!)) * 60n + BigInt(m[3] ?? 0)) * unitNs.s + fracNs(m[4])
    else if (/^\d+(\.\d+)?$/.test(v)) {
      if (settings.tsUnit === undefined)
        return refuse(
          `time of day ${JSON.stringify(v)} is a number: say what it counts with --ts-unit s|ms|us|ns`,
        )
      ns = countToNs(v, settings.tsUnit)
    } else return undefined
    if (ns >= dayNs) return undefined
    const secs = ns / unitNs.s
    const h = Number(secs / 3600n)
    const mi = Number((secs / 60n) % 60n)
    const s = Number(secs % 60n)
    let second: ZoneSecond
    try {
      second = secondInZone(cache, settings.date!, h, mi, s, settings.timezone!)
    } catch {
      return undefined
    }
    return local(second, String((ns % unitNs.s) / 1000n).padStart(6, '0'), v, settings.timezone!, key)
  }
  const read = (raw: string, key = ''): string | undefined => {
    const v = raw.trim()
    why = undefined
    let out: string | undefined
    if (settings.date !== undefined) out = timeOfDay(v, key)
    else if (/^\d+(\.\d+)?$/.test(v)) out = epoch(v)
    else out = zoned(v, key)
    // The format is settled by the first value that could be read; an empty or garbled first
    // row does not waive the questions for the rest of the file.
    if (out !== undefined) first = false
    reader.why = why
    return out
  }
  const reader: TimeReader = Object.assign(read, { why: undefined as string | undefined })
  return reader
}
