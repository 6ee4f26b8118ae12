// A small reader of the Prometheus text format for the few series the health panel shows.
export type Samples = Map<string, number>

/** `name{labels} value` lines → map of the full series key to its value. */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}

export function sum(samples: Samples, name: string): number {
  let total = 0
  for (const [k, v] of samples) if (k === name || k.startsWith(`${name}{`)) total += v
  return total
}

/**
 * A quantile from cumulative histogram buckets, interpolated linearly inside the bucket that
 * reaches it (as Prometheus's histogram_quantile does), so it is an estimate between two bounds
 * rather than the upper bound itself. Buckets of several label sets are added up by bound.
 */
export function quantile(samples: Samples, name: string, q: number): number | undefined {
  const byBound = new Map<number, number>()
  const re = new RegExp(`^${name}_bucket\\{(?:.*,)?le="([^"]+)"`)
  for (const [k, v] of samples) {
    const m = re.exec(k)
    if (!m) continue
    const le = m[1] === '+Inf' ? Infinity : Number(m[1])
    byBound.set(le, (byBound.get(le) ?? 0) + v)
  }
  const buckets = [...byBound].sort((a, b) => a[0] - b[0])
  const total = buckets.at(-1)?.[1] ?? 0
  if (total === 0) return undefined
  const rank = q * total
  let lower = 0
  let below = 0
  for (const [le, count] of buckets) {
    if (count >= rank) {
      // In the +Inf bucket there is no upper bound to interpolate to: the highest finite bound.
      if (le === Infinity) return lower
      const inBucket = count - below
      return inBucket === 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket
    }
    lower = le
    below = count
  }
  return lower
}
