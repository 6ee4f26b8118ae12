// Spark's bars next to tickflow's: with the comparison on, the chart also draws the Spark job's
// closes (GET /api/v1/bars?source=spark, docs/spark.md) as a dashed line over the candles, and
// counts the buckets where the two sources disagree among the bars the chart holds: a bar only one
// side has, or one whose open, high, low, close, volume, VWAP or trade count differ. Decimals are
// compared as numbers written without trailing zeros, so 1.50 equals 1.5 and nothing is rounded.
import { LineSeries, LineStyle, type IChartApi, type UTCTimestamp } from 'lightweight-charts'
import { barsUrl, getJson, type Bar, type Page } from './api.ts'
import { LatestFetch } from './reload.ts'

const FIELDS = ['open', 'high', 'low', 'close', 'volume', 'vwap', 'trades'] as const
/** The API's largest page: the chart holds fewer bars than this unless scrolled far back. */
const LIMIT = 5000

export interface CompareState {
  on: boolean
  loading: boolean
  /** Spark bars drawn and tickflow bars compared (the buckets the chart holds). */
  spark: number
  tickflow: number
  /** Buckets where the two differ, and the first few of them. */
  differ: number
  examples: string[]
  /** The line as the chart holds it, oldest first: [time in seconds, close] (close null: no price). */
  drawn: [number, number | null][]
}

/** A decimal string without trailing fractional zeros (null stays null). */
export function canonical(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null
  return v.includes('.') ? v.replace(/0+$/, '').replace(/\.$/, '') : v
}

/** The buckets, in order, where two lists of bars of one symbol and interval disagree. */
export function differing(tickflow: Bar[], spark: Bar[]): string[] {
  const other = new Map(spark.map((b) => [b.bucket, b]))
  const out: string[] = []
  for (const b of tickflow) {
    const s = other.get(b.bucket)
    other.delete(b.bucket)
    if (!s || FIELDS.some((f) => canonical(b[f]) !== canonical(s[f]))) out.push(b.bucket)
  }
  return [...out, ...other.keys()].sort()
}

/** A `load` call: the bars to compare; `key` is the symbol and interval. */
interface Wanted {
  symbol: string
  interval: string
  held: Bar[]
  key: string
}

const time = (iso: string): UTCTimestamp => (Date.parse(iso) / 1000) as UTCTimestamp

export class SparkCompare {
  readonly state: CompareState = {
    on: false,
    loading: false,
    spark: 0,
    tickflow: 0,
    differ: 0,
    examples: [],
    drawn: [],
  }
  readonly #line
  readonly #result: HTMLElement
  readonly #latest = new LatestFetch<Wanted, Bar[]>(
    (want) => this.#fetch(want),
    (spark, want) => this.#draw(spark, want.held),
  )
  onError: (err: unknown) => void = () => {}

  constructor(chart: IChartApi, result: HTMLElement) {
    this.#result = result
    this.#line = chart.addSeries(LineSeries, {
      color: '#f0883e',
      lineWidth: 2,
      lineStyle: LineStyle.Dashed,
      priceLineVisible: false,
      lastValueVisible: false,
      crosshairMarkerVisible: false,
      visible: false,
    })
  }

  set(on: boolean): void {
    this.state.on = on
    this.#line.applyOptions({ visible: on })
    if (!on) {
      this.#latest.drop()
      Object.assign(this.state, { loading: false, spark: 0, tickflow: 0, differ: 0, examples: [], drawn: [] })
      this.#line.setData([])
      this.#result.textContent = ''
      this.#result.className = 'compare-result'
    }
  }

  /**
   * Fetches Spark's bars for the buckets of `held` (tickflow's bars on the chart) and compares, one
   * fetch at a time (LatestFetch). Resolves once nothing is left to fetch.
   */
  async load(symbol: string, interval: string, held: Bar[]): Promise<void> {
    if (!this.state.on) return
    this.state.loading = true
    try {
      await this.#latest.load({ symbol, interval, held, key: `${symbol}\n${interval}` })
    } finally {
      this.state.loading = false
    }
  }

  async #fetch({ symbol, interval, held }: Wanted): Promise<Bar[]> {
    const first = held[0]?.bucket
    const last = held.at(-1)?.bucket
    if (!first || !last) return []
    const to = new Date(Date.parse(last) + 1000).toISOString()
    const url = barsUrl(symbol, interval, { source: 'spark', from: first, to, order: 'desc', limit: LIMIT })
    return (await getJson<Page<Bar>>(url)).data.reverse()
  }

  #draw(spark: Bar[], held: Bar[]): void {
    if (!this.state.on) return // turned off while the fetch ran
    this.#line.setData(
      spark.map((b) =>
        b.close === null ? { time: time(b.bucket) } : { time: time(b.bucket), value: Number(b.close) },
      ),
    )
    const diff = differing(held, spark)
    Object.assign(this.state, {
      spark: spark.length,
      tickflow: held.length,
      differ: diff.length,
      examples: diff.slice(0, 5),
      drawn: this.#line.data().map((p) => [Number(p.time), 'value' in p ? p.value : null]),
    })
    this.#result.textContent =
      diff.length === 0
        ? `Spark: ${spark.length} bars, all equal`
        : `Spark: ${spark.length} bars, ${diff.length} differ from tickflow's ${held.length}`
    this.#result.title = diff.length === 0 ? '' : `first: ${diff.slice(0, 5).join(', ')}`
    this.#result.className = `compare-result ${diff.length === 0 ? 'agree' : 'disagree'}`
  }
}
