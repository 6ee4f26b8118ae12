// Indicators on the price chart: SMA, EMA, Bollinger bands and session VWAP drawn over the candles,
// RSI, MACD and realized volatility each in a pane of its own. The values come from
// /api/v1/indicators for the bars the chart holds, fetched again when those change (a page, a live
// bar), so they always match the API. Which indicators are on is written `sma(20),rsi(14)` (the
// URL's `ind` parameter).
import {
  HistogramSeries,
  LineSeries,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from 'lightweight-charts'
import { getJson, type Page } from './api.ts'
import { LatestFetch } from './reload.ts'

/** The choices the toolbar offers; the URL may carry any other parameters. */
export const PRESETS = [
  'sma(20)',
  'ema(20)',
  'bollinger(20,2)',
  'vwap',
  'rsi(14)',
  'macd(12,26,9)',
  'volatility(20)',
]

const FORM = /^(sma|ema|rsi|bollinger|macd|volatility|vwap)(?:\(([0-9.,]*)\))?$/
const POSITIONAL: Record<string, string[]> = {
  sma: ['period'],
  ema: ['period'],
  rsi: ['period'],
  volatility: ['period'],
  bollinger: ['period', 'k'],
  macd: ['fast', 'slow', 'signal'],
  vwap: [],
}
const OVERLAY = new Set(['sma', 'ema', 'bollinger', 'vwap'])
const COLORS = ['#58a6ff', '#bc8cff', '#3fb950', '#f778ba', '#79c0ff', '#ffa657', '#a5d6ff']
const LINE = {
  lineWidth: 1,
  priceLineVisible: false,
  lastValueVisible: false,
  crosshairMarkerVisible: false,
} as const

/** `sma(20)` → the query parameters of /api/v1/indicators; undefined when it is not one. */
export function indicatorQuery(label: string): Record<string, string> | undefined {
  const m = FORM.exec(label)
  if (!m) return undefined
  const names = POSITIONAL[m[1]!]!
  const values = m[2] ? m[2].split(',') : []
  if (values.length > names.length) return undefined
  return { name: m[1]!, ...Object.fromEntries(values.map((v, i) => [names[i]!, v])) }
}

type Row = Record<string, string | null> & { bucket: string }

interface Drawn {
  label: string
  series: ISeriesApi<'Line' | 'Histogram'>[]
  points: number
}

export interface IndicatorState {
  /** The indicators on, in the URL's form. */
  on: string[]
  /** Points drawn per indicator and the last value of each line, for tests and the curious. */
  drawn: Record<string, { points: number; last: Record<string, string | null>; pane: number }>
  /** Panes of the chart (price, volume, then one per RSI/MACD/volatility). */
  panes: number
  loading: boolean
}

/** A `load` call: the bars and indicators to fetch; `key` joins all but the bars. */
interface Wanted {
  symbol: string
  interval: string
  first: string
  last: string
  labels: string[]
  key: string
}

export class IndicatorLayer {
  readonly state: IndicatorState = { on: [], drawn: {}, panes: 0, loading: false }
  readonly #chart: IChartApi
  #drawn: Drawn[] = []
  readonly #latest = new LatestFetch<Wanted, { label: string; rows: Row[] }[]>(
    (want) => this.#fetch(want),
    (results) => this.#drawAll(results),
  )
  onError: (err: unknown) => void = () => {}

  constructor(chart: IChartApi) {
    this.#chart = chart
  }

  /** Sets which indicators are on (unknown ones are dropped); redraws on the next `load`. */
  set(labels: string[]): void {
    this.state.on = [...new Set(labels.filter((l) => indicatorQuery(l) !== undefined))]
  }

  toggle(label: string): void {
    const on = this.state.on
    this.set(on.includes(label) ? on.filter((l) => l !== label) : [...on, label])
  }

  /**
   * Fetches and draws every indicator on for the bars [first, last] of a symbol and interval, one
   * fetch at a time (LatestFetch). Resolves once nothing is left to fetch.
   */
  async load(symbol: string, interval: string, first: string, last: string): Promise<void> {
    const labels = [...this.state.on]
    const key = [symbol, interval, ...labels].join('\n')
    this.state.loading = true
    try {
      await this.#latest.load({ symbol, interval, first, last, labels, key })
    } finally {
      this.state.loading = false
    }
  }

  #drawAll(results: { label: string; rows: Row[] }[]): void {
    this.#clear()
    let pane = 2
    results.forEach(({ label, rows }, i) => {
      const name = indicatorQuery(label)!.name!
      const own = OVERLAY.has(name) ? 0 : pane++
      this.#draw(label, name, rows, own, COLORS[i % COLORS.length]!)
    })
    this.state.panes = this.#chart.panes().length
  }

  #fetch({ symbol, interval, first, last, labels }: Wanted): Promise<{ label: string; rows: Row[] }[]> {
    const to = new Date(Date.parse(last) + 1000).toISOString()
    return Promise.all(
      labels.map(async (label) => {
        const q = new URLSearchParams({
          symbol,
          interval,
          ...indicatorQuery(label)!,
          from: first,
          to,
          limit: '5000',
        })
        // The newest 5000 (one page) when the chart holds more bars than that.
        const page = await getJson<Page<Row>>(`/api/v1/indicators?${q.toString()}&order=desc`)
        return { label, rows: page.data.reverse() }
      }),
    )
  }

  #clear(): void {
    for (const d of this.#drawn) for (const s of d.series) this.#chart.removeSeries(s)
    this.#drawn = []
    this.state.drawn = {}
  }

  #draw(label: string, name: string, rows: Row[], pane: number, color: string): void {
    const columns =
      name === 'bollinger'
        ? ['middle', 'upper', 'lower']
        : name === 'macd'
          ? ['macd', 'signal', 'histogram']
          : ['value']
    const series = columns.map((c, i) => {
      if (c === 'histogram')
        return this.#chart.addSeries(HistogramSeries, { ...LINE, color: `${color}88` }, pane)
      const dashed = name === 'bollinger' && i > 0 ? { lineStyle: 2 } : {}
      const shade = name === 'macd' && c === 'signal' ? '#ffa657' : color
      return this.#chart.addSeries(
        LineSeries,
        { ...LINE, ...dashed, color: shade, title: i === 0 ? label : '' },
        pane,
      )
    })
    columns.forEach((c, i) =>
      series[i]!.setData(
        rows.map((r) => {
          const time = (Date.parse(r.bucket) / 1000) as UTCTimestamp
          return r[c] === null || r[c] === undefined ? { time } : { time, value: Number(r[c]) }
        }),
      ),
    )
    if (pane > 1) this.#chart.panes()[pane]?.setStretchFactor(0.3)
    const points = rows.filter((r) => r[columns[0]!] !== null).length
    this.#drawn.push({ label, series, points })
    const last = rows.at(-1)
    this.state.drawn[label] = {
      points,
      last: Object.fromEntries(columns.map((c) => [c, last?.[c] ?? null])),
      pane,
    }
  }
}
