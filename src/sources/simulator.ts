// The simulator: a market of symbols whose prices follow geometric Brownian motion, trading in
// bursts and quiet spells, with round-lot-heavy random sizes. Deterministic for a given seed:
// the same seed, symbols and count give the same trades (timestamps included when `start` is fixed).
import { z } from 'zod'
import type { Trade } from '../domain/trade.ts'
import { isoMicros } from '../domain/trade.ts'
import type { Source, SourceAdapter, SourceDeps } from './types.ts'

export const simulatorOptions = z.object({
  symbols: z.array(z.string()).min(1),
  /** Trades per second of event time over all symbols. */
  rate: z.number().nonnegative().default(200),
  /** Pace in real time (true) or emit as fast as possible with event time advancing at `rate`. */
  realtime: z.boolean().default(true),
  count: z.number().int().positive().optional(),
  durationMs: z.number().int().positive().optional(),
  seed: z.number().int().nonnegative().optional(),
  /** Event time of the first trade, ms since the epoch (default: now). */
  start: z.number().optional(),
  batchSize: z.number().int().positive().default(500),
  /** Price to start each symbol from (a previous run's last stored price); others start at random. */
  startPrices: z.record(z.string(), z.string()).optional(),
})
export type SimulatorOptions = z.input<typeof simulatorOptions>

/** mulberry32: a small seeded PRNG; statistical quality is ample for a market simulation. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface SymbolState {
  symbol: string
  price: number
  sigma: number
  tick: number
  seq: number
}

function startPrice(stored: string | undefined, random: number): number {
  const p = stored === undefined ? NaN : Number(stored)
  return Number.isFinite(p) && p > 0 ? p : random
}

export function* simulate(opts: SimulatorOptions): Generator<Trade> {
  const o = simulatorOptions.parse(opts)
  const rand = prng(o.seed ?? Date.now() & 0x7fffffff)
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
  const states: SymbolState[] = o.symbols.map((symbol) => ({
    symbol,
    // The random draw is made either way, so resuming changes no other number of a seeded run.
    price: startPrice(o.startPrices?.[symbol], 20 + rand() * 480),
    sigma: 0.15 + rand() * 0.45, // annualised volatility
    tick: 0.01,
    seq: 0,
  }))
  // Trading activity per symbol is skewed: a few names trade much more than the rest.
  const weights = states.map((_, i) => 1 / (1 + i * 0.15))
  const totalWeight = weights.reduce((a, b) => a + b, 0)
  const rate = o.rate > 0 ? o.rate : 1000
  let t = o.start ?? Date.now()
  // Trade ids are unique per run (the start time) and repeat only when the run is repeated exactly.
  const run = t.toString(36)
  let micros = 0
  let regime = 1 // >1 burst, <1 quiet
  const yearMs = 252 * 6.5 * 3_600_000
  for (let n = 0; o.count === undefined || n < o.count; n++) {
    if (rand() < 0.002) regime = rand() < 0.5 ? 3 + rand() * 5 : 0.2 + rand() * 0.5
    else if (rand() < 0.01) regime = 1
    const gapMs = (-Math.log(1 - rand()) / (rate * regime)) * 1000
    const before = t * 1000 + micros
    const after = Math.floor(before + gapMs * 1000)
    t = Math.floor(after / 1000)
    micros = after % 1000
    let pick = rand() * totalWeight
    let i = 0
    while (i < states.length - 1 && (pick -= weights[i]!) > 0) i++
    const s = states[i]!
    const dtYears = Math.max(gapMs * states.length, 1) / yearMs
    s.price *= Math.exp(-0.5 * s.sigma ** 2 * dtYears + s.sigma * Math.sqrt(dtYears) * gauss())
    s.price = Math.max(s.price, 0.05)
    const cents = Math.max(1, Math.round(s.price / s.tick))
    const r = rand()
    const size =
      r < 0.6
        ? 100 * (1 + Math.floor(rand() * 5))
        : r < 0.9
          ? 1 + Math.floor(rand() * 99)
          : 100 * (5 + Math.floor(-Math.log(1 - rand()) * 20))
    s.seq++
    yield {
      v: 1,
      type: 'trade',
      symbol: s.symbol,
      ts: isoMicros(t, micros),
      price: (cents / 100).toFixed(2),
      size: String(size),
      source: 'simulator',
      id: `${s.symbol}-${run}-${s.seq}`,
    }
  }
}

export const simulator: SourceAdapter<z.output<typeof simulatorOptions>> = {
  name: 'simulator',
  summary: 'synthetic trades, deterministic with --seed (the default; --rate, --count, --duration, --start)',
  options: simulatorOptions,
  create(options, deps: SourceDeps): Source {
    return {
      name: 'simulator',
      async *batches() {
        const stored = await deps.lastPrices?.(options.symbols)
        if (stored && Object.keys(stored).length > 0)
          deps.log.info({ prices: stored }, 'simulator resumes from the last stored prices')
        const gen = simulate({ ...options, startPrices: { ...stored, ...options.startPrices } })
        const startedAt = Date.now()
        const firstEventMs = options.start ?? startedAt
        let batch: Trade[] = []
        let produced = 0
        for (const trade of gen) {
          if (deps.signal.aborted) break
          if (options.durationMs !== undefined && Date.now() - startedAt >= options.durationMs) break
          if (options.realtime && options.rate > 0) {
            // Pace: wait until wall-clock time catches up with the trade's event time.
            const due = startedAt + (Date.parse(trade.ts) - firstEventMs)
            const wait = due - Date.now()
            if (wait > 5) {
              if (batch.length > 0) {
                yield batch
                batch = []
              }
              await new Promise((r) => setTimeout(r, wait))
            }
          }
          batch.push(
            options.realtime && options.rate > 0 && options.start === undefined
              ? { ...trade, ts: isoMicros(Date.now()) }
              : trade,
          )
          produced++
          deps.metrics.ticksIngested.inc({ source: 'simulator' })
          deps.metrics.feedLastTickAt.set('simulator', Date.now())
          if (batch.length >= options.batchSize) {
            yield batch
            batch = []
            // Let timers and I/O run between batches when emitting as fast as possible.
            await new Promise((r) => setImmediate(r))
          }
        }
        if (batch.length > 0) yield batch
        deps.log.info({ produced }, 'simulator finished')
      },
    }
  },
}
