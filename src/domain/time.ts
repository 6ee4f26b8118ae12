// Event time is parsed once, to microseconds (PostgreSQL's timestamptz precision). Digits past the
// sixth are truncated, never rounded: "23:59:59.9999999Z" stays on its own day, so the stored value,
// its day partition and its bar buckets all derive from the same instant.

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/

/** Strict ISO-8601 UTC (`Z`) with a real calendar date, years 1970–2199; µs since the epoch. */
export function parseMicros(s: string): number | undefined {
  // Trades arrive many to a second: the last two seconds read are kept (a trade's event time and
  // its receive time are usually in different seconds), and a string that starts with one of them
  // only has its fraction read (the same rule as the pattern: `.` then 1–9 digits, then `Z`).
  const second = s.startsWith(seconds[0]) ? 0 : s.startsWith(seconds[1]) ? 1 : -1
  if (second >= 0) {
    const fraction = fractionMicros(s)
    if (fraction !== undefined) return (second === 0 ? secondMicros[0] : secondMicros[1]) + fraction
  }
  const m = ISO.exec(s)
  if (!m) return undefined
  const [year, month, day, hour, minute, sec] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  if (year < 1970 || year > 2199 || hour > 23 || minute > 59 || sec > 59) return undefined
  const ms = Date.UTC(year, month - 1, day, hour, minute, sec)
  const d = new Date(ms)
  if (d.getUTCFullYear() !== year || d.getUTCMonth() + 1 !== month || d.getUTCDate() !== day) return undefined
  seconds[nextSlot] = s.slice(0, 19)
  secondMicros[nextSlot] = ms * 1000
  nextSlot = 1 - nextSlot
  return ms * 1000 + Number((m[7] ?? '').padEnd(6, '0').slice(0, 6))
}

// Never-matching until filled: every time string is longer than one space.
const seconds: [string, string] = [' ', ' ']
const secondMicros: [number, number] = [0, 0]
let nextSlot = 0

/** The µs of `.d{1,9}Z` after the 19 characters of the second (none: 0), or undefined if not that. */
function fractionMicros(s: string): number | undefined {
  const n = s.length
  if (n === 20) return s.charCodeAt(19) === 90 ? 0 : undefined // "…:SSZ"
  if (n < 22 || n > 30 || s.charCodeAt(19) !== 46 || s.charCodeAt(n - 1) !== 90) return undefined
  let micros = 0
  for (let i = 20; i < n - 1; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return undefined
    if (i < 26) micros = micros * 10 + d
  }
  for (let i = Math.min(n - 1, 26); i < 26; i++) micros *= 10
  return micros
}

/**
 * The canonical text (`…SS.ffffffZ`) of a time parseMicros accepted: its fraction padded with
 * zeros or cut to six digits, as formatMicros would print the same instant.
 */
export function canonicalTime(s: string): string {
  const n = s.length
  if (n === 27) return s
  if (n === 20) return `${s.slice(0, 19)}.000000Z`
  return n < 27 ? `${s.slice(0, n - 1)}${'000000'.slice(n - 21)}Z` : `${s.slice(0, 26)}Z`
}

/** µs since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function formatMicros(micros: number): string {
  const ms = Math.floor(micros / 1000)
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 20)}${String(micros - Math.floor(micros / 1_000_000) * 1_000_000).padStart(6, '0')}Z`
}
