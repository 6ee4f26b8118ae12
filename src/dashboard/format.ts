// Number and time formatting for people: 51.61M rather than 51608580, times in UTC.

/** 51608580 → "51.61M"; 1234 → "1,234"; small values keep up to 4 significant decimals. */
export function compact(v: number): string {
  const abs = Math.abs(v)
  for (const [n, s] of [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
  ] as const)
    if (abs >= n) return `${(v / n).toFixed(2)}${s}`
  if (abs >= 1000) return Math.round(v).toLocaleString('en')
  return Number(v.toPrecision(6)).toString()
}

/** A decimal string shown as is when short, else compacted. */
export function decimal(s: string | null | undefined): string {
  if (s === null || s === undefined || s === '') return '—'
  const n = Number(s)
  if (Math.abs(n) >= 1e6) return compact(n)
  // Prices are shown exactly as stored; only long fractions (a VWAP's 16 digits) are shortened.
  const frac = s.split('.')[1] ?? ''
  return frac.length > 6 ? n.toFixed(4) : s
}

export function utc(seconds: number, withSeconds = true): string {
  const iso = new Date(seconds * 1000).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, withSeconds ? 19 : 16)} UTC`
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
