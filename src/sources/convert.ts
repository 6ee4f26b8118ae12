// Provider numbers and timestamps into the exact strings of the wire format: a price never passes
// through a binary float on its way to PostgreSQL, an event time keeps its microseconds.
import { normaliseTs } from './replay.ts'

/** A JSON number or decimal string → the exact decimal string (shortest round trip, no exponent). */
export function decimalString(v: unknown): string | undefined {
  if (typeof v === 'string') return /^\d+(\.\d+)?$/.test(v) ? v : undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return undefined
  const s = String(v)
  const m = /^(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s)
  if (!m) return s
  const digits = m[1]! + (m[2] ?? '')
  const point = m[1]!.length + Number(m[3])
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length)
  return `${digits.slice(0, point)}.${digits.slice(point)}`
}

/** Epoch ms/µs/ns (by magnitude) or an RFC 3339 string → ISO UTC with microseconds, or undefined. */
export function eventTime(v: unknown): string | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) return undefined
    // Nanosecond epochs exceed 2^53 and have already lost their last digits in JSON.parse.
    return normaliseTs(Number.isSafeInteger(v) ? String(v) : BigInt(Math.round(v)).toString())
  }
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) return normaliseTs(v)
  return undefined
}
