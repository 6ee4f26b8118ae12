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

/** A quantile from cumulative histogram buckets (upper bound of the bucket that reaches it). */
export function quantile(samples: Samples, name: string, q: number): number | undefined {
  const buckets: [number, number][] = []
  for (const [k, v] of samples) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)"`).exec(k)
    if (m) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), v])
  }
  buckets.sort((a, b) => a[0] - b[0])
  const total = buckets.at(-1)?.[1] ?? 0
  if (total === 0) return undefined
  return buckets.find(([, c]) => c >= q * total)?.[0]
}
