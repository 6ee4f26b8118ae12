// Exact decimals, the one module for them: the indicators that need no rounding before their last
// step (SMA, the Bollinger middle band, session VWAP) and the alert conditions ("price ≥ level",
// "move ≥ p %") use it. Prices and sizes are exact decimal strings everywhere between the source
// and the bars, so sums and comparisons are kept as scaled integers, without binary floats.

/** A decimal `v / 10^s`. */
export interface Dec {
  v: bigint
  s: number
}

export const ZERO: Dec = { v: 0n, s: 0 }

const DECIMAL = /^-?\d+(?:\.\d+)?$/

/** A decimal as PostgreSQL prints numeric (no exponent) → Dec. */
export function parseDec(text: string): Dec {
  // Checked with test(), then cut by hand: bars parse two decimals per trade, and exec's match
  // array was 5 % of the processor's garbage.
  if (!DECIMAL.test(text)) throw new Error(`not a decimal: ${JSON.stringify(text)}`)
  const dot = text.indexOf('.')
  if (dot < 0) return { v: BigInt(text), s: 0 }
  return { v: BigInt(text.slice(0, dot) + text.slice(dot + 1)), s: text.length - dot - 1 }
}

// Bar aggregation adds every trade into several bars: the common powers are looked up.
const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i))
const pow10 = (n: number): bigint => POW10[n] ?? 10n ** BigInt(n)

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  if (a.s === b.s) return [a.v, b.v, a.s]
  if (a.s > b.s) return [a.v, b.v * pow10(a.s - b.s), a.s]
  return [a.v * pow10(b.s - a.s), b.v, b.s]
}

export function add(a: Dec, b: Dec): Dec {
  if (a.s === b.s) return { v: a.v + b.v, s: a.s }
  const [x, y, s] = align(a, b)
  return { v: x + y, s }
}

export function sub(a: Dec, b: Dec): Dec {
  const [x, y, s] = align(a, b)
  return { v: x - y, s }
}

export function mul(a: Dec, b: Dec): Dec {
  return { v: a.v * b.v, s: a.s + b.s }
}

export const decInt = (n: number): Dec => ({ v: BigInt(n), s: 0 })

export const neg = (a: Dec): Dec => ({ v: -a.v, s: a.s })

export const isZero = (a: Dec): boolean => a.v === 0n

/** Sign of a − b. */
export function cmp(a: Dec, b: Dec): number {
  const [x, y] = a.s === b.s ? [a.v, b.v] : align(a, b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** The decimal as text with its own number of decimals. */
export const decText = (a: Dec): string => scaledText(a.v, a.s)

/** `num / den` of two integers rounded half away from zero. */
function roundDiv(num: bigint, den: bigint): bigint {
  if (den < 0n) [num, den] = [-num, -den]
  const q = num / den
  const r = num % den
  if (2n * (r < 0n ? -r : r) >= den) return num < 0n ? q - 1n : q + 1n
  return q
}

/** `a / b` rounded half away from zero to `places` decimals, as text with exactly that many. */
export function divText(a: Dec, b: Dec, places: number): string {
  // a.v/10^a.s ÷ b.v/10^b.s, scaled by 10^places
  const q = roundDiv(a.v * pow10(places + b.s), b.v * pow10(a.s))
  return scaledText(q, places)
}

/** The scaled integer `q / 10^places` as text. */
export function scaledText(q: bigint, places: number): string {
  const neg = q < 0n
  const digits = (neg ? -q : q).toString().padStart(places + 1, '0')
  const int = digits.slice(0, digits.length - places)
  const text = places > 0 ? `${int}.${digits.slice(-places)}` : int
  return neg && /[1-9]/.test(digits) ? `-${text}` : text
}
