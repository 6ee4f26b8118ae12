// Event time is parsed once, to microseconds (PostgreSQL's timestamptz precision). Digits past the
// sixth are truncated, never rounded: "23:59:59.9999999Z" stays on its own day, so the stored value,
// its day partition and its bar buckets all derive from the same instant.

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/

/** Strict ISO-8601 UTC (`Z`) with a real calendar date, years 1970–2199; µs since the epoch. */
export function parseMicros(s: string): number | undefined {
  const m = ISO.exec(s)
  if (!m) return undefined
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  if (year < 1970 || year > 2199 || hour > 23 || minute > 59 || second > 59) return undefined
  const ms = Date.UTC(year, month - 1, day, hour, minute, second)
  const d = new Date(ms)
  if (d.getUTCFullYear() !== year || d.getUTCMonth() + 1 !== month || d.getUTCDate() !== day) return undefined
  const fraction = Number((m[7] ?? '').padEnd(6, '0').slice(0, 6))
  return ms * 1000 + fraction
}

/** µs since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function formatMicros(micros: number): string {
  const ms = Math.floor(micros / 1000)
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 20)}${String(micros - Math.floor(micros / 1_000_000) * 1_000_000).padStart(6, '0')}Z`
}
