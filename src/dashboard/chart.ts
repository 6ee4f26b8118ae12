// The price chart: candles, the VWAP line and (in its own pane) volume for one symbol and
// interval. It opens on the latest bars wherever they lie in time (order=desc), loads older pages by
// keyset cursor as the user scrolls left (newer ones after a jump, scrolling right), and shows a
// legend of the bar under the crosshair. Prices become numbers only here, to be plotted.
import {
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
  createChart,
  type IChartApi,
  type LogicalRange,
  type MouseEventParams,
  type UTCTimestamp,
} from 'lightweight-charts'
import { barsUrl, getJson, type Bar, type Page } from './api.ts'
import { compact, decimal, escapeHtml, utc } from './format.ts'

export const PAGE = 200
const SECONDS: Record<string, number> = { '1s': 1, '1m': 60, '5m': 300, '1h': 3600, '1d': 86400 }
const time = (iso: string): UTCTimestamp => (Date.parse(iso) / 1000) as UTCTimestamp
const UP = '#26a69a'
const DOWN = '#ef5350'

export interface ChartState {
  symbol: string
  interval: string
  candles: number
  first: string
  last: string
  reachedStart: boolean
  lastClose: string
  lastVolume: string
  loading: boolean
}

/** Bars read for a view, with the cursors of the pages before and after them (null: none). */
interface Loaded {
  rows: Bar[]
  older: string | null
  newer: string | null
}

export class PriceChart {
  readonly chart: IChartApi
  readonly state: ChartState
  readonly #candles
  readonly #vwap
  readonly #volume
  readonly #legend: HTMLElement
  #bars = new Map<number, Bar>()
  #older: string | null = null
  #newer: string | null = null
  #generation = 0
  /**
   * Live bars of the series being opened, merged once its page is in: a bar stored after the page
   * was read and streamed before it arrived would otherwise be replaced by the page, and lost.
   */
  #early: Bar[] | null = null
  /** Called with the visible time range (seconds) when it changes. */
  onRange: (from: number, to: number) => void = () => {}
  onError: (err: unknown) => void = () => {}
  /**
   * Called when the bars held change, with the first and last bucket: `live` for a bar from the
   * stream, false for a page loaded.
   */
  onData: (first: string, last: string, live: boolean) => void = () => {}

  constructor(el: HTMLElement, legend: HTMLElement, state: ChartState) {
    this.state = state
    this.#legend = legend
    this.chart = createChart(el, {
      layout: {
        background: { color: '#161b22' },
        textColor: '#8b949e',
        panes: { separatorColor: '#30363d' },
      },
      grid: { vertLines: { color: '#21262d' }, horzLines: { color: '#21262d' } },
      timeScale: {
        timeVisible: true,
        secondsVisible: true,
        borderColor: '#30363d',
        barSpacing: 8,
        rightOffset: 4,
      },
      rightPriceScale: { borderColor: '#30363d' },
      localization: { timeFormatter: (t: number) => utc(t, true) },
      autoSize: true,
    })
    this.#candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
      priceFormat: { type: 'custom', formatter: price, minMove: 0.000001 },
    })
    this.#vwap = this.chart.addSeries(LineSeries, {
      color: '#d29922',
      lineWidth: 1,
      priceLineVisible: false,
      lastValueVisible: false,
      crosshairMarkerVisible: false,
      priceFormat: { type: 'custom', formatter: price, minMove: 0.000001 },
    })
    this.#volume = this.chart.addSeries(
      HistogramSeries,
      { priceFormat: { type: 'custom', formatter: compact }, priceLineVisible: false },
      1,
    )
    this.chart.panes()[1]?.setStretchFactor(0.25)
    this.chart.subscribeCrosshairMove((p) => this.#showLegend(p))
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((r) => this.#onScroll(r))
  }

  /** Loads the symbol's latest page, or the pages either side of `around` (seconds). */
  async open(symbol: string, interval: string, around?: number): Promise<void> {
    const gen = ++this.#generation
    Object.assign(this.state, { symbol, interval, loading: true })
    this.#early = []
    let read: Loaded
    try {
      read = await this.#read(symbol, interval, around)
    } catch (err) {
      if (gen === this.#generation) this.#early = null
      throw err
    }
    if (gen !== this.#generation) return
    const { rows } = read
    this.#older = read.older
    this.#newer = read.newer
    this.#bars = new Map(rows.map((b) => [time(b.bucket), b]))
    this.#mergeEarly()
    this.#redraw()
    this.state.loading = false
    const span = SECONDS[interval]! * 60
    if (around === undefined) this.chart.timeScale().scrollToRealTime()
    else if (rows.length > 0) {
      // Centred on the bar nearest the time asked for: a day whose trades begin in the evening is
      // shown from its first bar, not as an empty stretch around noon squeezed to two bars.
      let at: number = time(rows[0]!.bucket)
      for (const b of rows) if (Math.abs(time(b.bucket) - around) < Math.abs(at - around)) at = time(b.bucket)
      if (Math.abs(at - around) <= span) at = around
      this.chart
        .timeScale()
        .setVisibleRange({ from: (at - span) as UTCTimestamp, to: (at + span) as UTCTimestamp })
    }
    // The range is known once the chart has laid the new bars out.
    requestAnimationFrame(() => this.#emitRange())
  }

  /** The latest page, or the pages either side of `around`, with the cursors beyond them. */
  async #read(symbol: string, interval: string, around?: number): Promise<Loaded> {
    if (around === undefined) {
      const page = await getJson<Page<Bar>>(barsUrl(symbol, interval, { order: 'desc', limit: PAGE }))
      return { rows: page.data.reverse(), older: page.nextCursor, newer: null }
    }
    const at = new Date(around * 1000).toISOString()
    const [before, after] = await Promise.all([
      getJson<Page<Bar>>(barsUrl(symbol, interval, { order: 'desc', to: at, limit: PAGE })),
      getJson<Page<Bar>>(barsUrl(symbol, interval, { from: at, limit: PAGE })),
    ])
    return {
      rows: [...before.data.reverse(), ...after.data],
      older: before.nextCursor,
      newer: after.nextCursor,
    }
  }

  #emitRange(): void {
    const visible = this.chart.timeScale().getVisibleRange()
    if (!visible) return
    this.onRange(Number(visible.from), Number(visible.to))
    // Without a crosshair the legend describes the newest bar on screen.
    const shown = this.#bars.get(Number(visible.to))
    if (shown) this.#legend.innerHTML = legendHtml(shown)
  }

  /** Shows a visible range (seconds) if the loaded bars cover it. */
  show(from: number, to: number): void {
    if (this.#bars.size === 0) return
    this.chart.timeScale().setVisibleRange({ from: from as UTCTimestamp, to: to as UTCTimestamp })
    requestAnimationFrame(() => this.#emitRange())
  }

  /** A live bar from the stream: drawn when the chart is at the live edge of this series. */
  live(b: Bar): boolean {
    if (b.symbol !== this.state.symbol || b.interval !== this.state.interval) return false
    if (this.#early) {
      this.#early.push(b)
      return true
    }
    const last = this.#lastTime()
    if (!this.#keep(b)) return false
    if (time(b.bucket) >= last) {
      this.#candles.update(candle(b))
      this.#vwap.update(vwapPoint(b))
      this.#volume.update(volumeBar(b))
      this.#summarise(true)
    } else this.#redraw(true)
    return true
  }

  /**
   * Reads the latest page again and merges it (after the stream was down: what was stored
   * meanwhile). Bars older than the page are kept, unless the page does not reach them: then the
   * chart holds the page alone, with no hole between them.
   */
  async refresh(): Promise<void> {
    if (this.#early || this.#newer !== null) return
    const gen = this.#generation
    const { symbol, interval } = this.state
    const { rows, older } = await this.#read(symbol, interval)
    if (gen !== this.#generation || this.#early || this.#newer !== null) return
    if (older !== null && rows.length > 0 && time(rows[0]!.bucket) > this.#lastTime()) {
      this.#bars = new Map()
      this.#older = older
    }
    for (const b of rows) this.#keep(b)
    this.#redraw(true)
  }

  /**
   * Holds a bar unless it is not at the live edge of what is loaded, or the copy held has more
   * trades: a bar only ever gains trades, so that copy is the newer.
   */
  #keep(b: Bar): boolean {
    if (this.#newer !== null) return false
    const t = time(b.bucket)
    const held = this.#bars.get(t)
    if (held && Number(held.trades) > Number(b.trades)) return false
    if (!held && this.#older !== null && this.#bars.size > 0 && t < this.#firstTime()) return false
    this.#bars.set(t, b)
    return true
  }

  /** The bars the chart holds, oldest first. */
  held(): Bar[] {
    return this.#sorted()
  }

  /** Merges the live bars kept while a page loaded, and stops keeping them. */
  #mergeEarly(): void {
    const early = this.#early ?? []
    this.#early = null
    for (const b of early) this.#keep(b)
  }

  #firstTime(): number {
    let first = Infinity
    for (const t of this.#bars.keys()) if (t < first) first = t
    return first
  }

  #lastTime(): number {
    let last = 0
    for (const t of this.#bars.keys()) if (t > last) last = t
    return last
  }

  #sorted(): Bar[] {
    return [...this.#bars.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b)
  }

  #redraw(live = false): void {
    const all = this.#sorted()
    this.#candles.setData(all.map(candle))
    this.#vwap.setData(all.map(vwapPoint))
    this.#volume.setData(all.map(volumeBar))
    this.#summarise(live)
  }

  #summarise(live = false): void {
    const all = this.#sorted()
    const last = all.at(-1)
    Object.assign(this.state, {
      candles: all.length,
      first: all[0]?.bucket ?? '',
      last: last?.bucket ?? '',
      reachedStart: this.#older === null,
      lastClose: last?.close ?? '',
      lastVolume: last?.volume ?? '',
    })
    this.#legend.innerHTML = last ? legendHtml(last) : ''
    if (last) this.onData(all[0]!.bucket, last.bucket, live)
  }

  #onScroll(r: LogicalRange | null): void {
    if (!r || this.state.loading) return
    if (r.from < 10 && this.#older) void this.#page('older').catch(this.onError)
    else if (r.to > this.#bars.size - 10 && this.#newer) void this.#page('newer').catch(this.onError)
    this.#emitRange()
  }

  async #page(which: 'older' | 'newer'): Promise<void> {
    const gen = this.#generation
    const cursor = which === 'older' ? this.#older : this.#newer
    if (!cursor) return
    this.state.loading = true
    const { symbol, interval } = this.state
    // The newest page reaches the live edge: bars streamed while it loads are merged into it.
    if (which === 'newer') this.#early = []
    try {
      const order = which === 'older' ? 'desc' : 'asc'
      const page = await getJson<Page<Bar>>(barsUrl(symbol, interval, { order, limit: PAGE, cursor }))
      if (gen !== this.#generation) return
      if (which === 'older') this.#older = page.nextCursor
      else this.#newer = page.nextCursor
      const range = this.chart.timeScale().getVisibleLogicalRange()
      for (const b of page.data) this.#bars.set(time(b.bucket), b)
      if (which === 'newer') this.#mergeEarly()
      this.#redraw()
      // Prepended bars shift every logical index: keep the same bars on screen.
      if (which === 'older' && range)
        this.chart
          .timeScale()
          .setVisibleLogicalRange({ from: range.from + page.data.length, to: range.to + page.data.length })
    } finally {
      if (gen === this.#generation) {
        if (which === 'newer') this.#early = null
        this.state.loading = false
      }
    }
  }

  #showLegend(p: MouseEventParams): void {
    const b = p.time === undefined ? undefined : this.#bars.get(Number(p.time))
    if (b) this.#legend.innerHTML = legendHtml(b)
    else this.#emitRange()
  }
}

/** Axis and crosshair prices: two decimals (six below 1), compacted from a million up. */
function price(p: number): string {
  const abs = Math.abs(p)
  return abs >= 1e6 ? compact(p) : p.toFixed(abs >= 1 || abs === 0 ? 2 : 6)
}

function candle(b: Bar) {
  // A bar of trades that may not set prices (official prints, odd lots…) has a volume, no candle.
  if (b.open === null || b.high === null || b.low === null || b.close === null)
    return { time: time(b.bucket) }
  return {
    time: time(b.bucket),
    open: Number(b.open),
    high: Number(b.high),
    low: Number(b.low),
    close: Number(b.close),
  }
}

function vwapPoint(b: Bar) {
  return b.vwap === null ? { time: time(b.bucket) } : { time: time(b.bucket), value: Number(b.vwap) }
}

function volumeBar(b: Bar) {
  return {
    time: time(b.bucket),
    value: Number(b.volume),
    color: Number(b.close) >= Number(b.open) ? `${UP}88` : `${DOWN}88`,
  }
}

function legendHtml(b: Bar): string {
  const cls = Number(b.close) >= Number(b.open) ? 'up' : 'down'
  const item = (k: string, v: string) =>
    `<span><b>${k}</b> <span class="${cls}">${escapeHtml(v)}</span></span>`
  return [
    `<span class="when">${b.interval === '1d' ? b.bucket.slice(0, 10) : utc(time(b.bucket), b.interval === '1s')}</span>`,
    item('O', decimal(b.open)),
    item('H', decimal(b.high)),
    item('L', decimal(b.low)),
    item('C', decimal(b.close)),
    item('V', compact(Number(b.volume))),
    item('VWAP', decimal(b.vwap)),
    item('T', compact(Number(b.trades))),
  ].join(' ')
}
