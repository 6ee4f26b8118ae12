// The dashboard: the price chart of a symbol and interval (history by keyset pages, live bars from
// the WebSocket), a searchable symbol picker, a paged ticker table, pipeline health, dead letters
// and alerts (rules created and deleted here, firings live from the WebSocket).
// The symbol, interval, visible range and indicators live in the URL, so a reload or a shared link
// shows the same view; an empty store shows what to run to get data.
import { getJson, type Bar } from './api.ts'
import { PriceChart, type ChartState } from './chart.ts'
import { refreshDeadLetters, refreshHealth, symbolPicker, Tickers } from './panels.ts'
import { backoffDelay } from '../util/backoff.ts'
import { IndicatorLayer, PRESETS, type IndicatorState } from './indicators.ts'
import { AlertsPanel, type AlertsState, type Firing } from './alerts.ts'
import { SparkCompare, type CompareState } from './compare.ts'
import { throttled } from './reload.ts'

const INTERVALS = ['1s', '1m', '5m', '1h', '1d']
/** While bars stream in, the indicator panes and the Spark comparison reload at most this often. */
const LIVE_RELOAD_MS = 500
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

const state: ChartState & {
  updates: number
  /** Times the stream opened again and the views were read again. */
  resyncs: number
  empty: boolean
  ready: boolean
  error: string
  visibleFrom: number
  visibleTo: number
  indicators?: IndicatorState
  alerts?: AlertsState
  compare?: CompareState
} = {
  symbol: '',
  interval: '',
  candles: 0,
  first: '',
  last: '',
  reachedStart: false,
  lastClose: '',
  lastVolume: '',
  loading: false,
  updates: 0,
  resyncs: 0,
  empty: false,
  ready: false,
  error: '',
  visibleFrom: 0,
  visibleTo: 0,
}
// Exposed for the browser tests and for the curious.
;(window as unknown as { __tickflow: typeof state }).__tickflow = state

function showError(err: unknown): void {
  state.error = err instanceof Error ? err.message : String(err)
  $('status').textContent = state.error
  $('status').className = 'status error'
}

const iso = (seconds: number): string =>
  new Date(Math.round(seconds) * 1000).toISOString().replace('.000Z', 'Z')

let urlTimer: ReturnType<typeof setTimeout> | undefined
let shown: { from?: number; to?: number } = {}
function saveUrl(from?: number, to?: number): void {
  shown = { from, to }
  clearTimeout(urlTimer)
  urlTimer = setTimeout(() => {
    const q = new URLSearchParams({ symbol: state.symbol, interval: state.interval })
    if (from !== undefined && to !== undefined) {
      q.set('from', iso(from))
      q.set('to', iso(to))
    }
    if (state.indicators && state.indicators.on.length > 0) q.set('ind', state.indicators.on.join(','))
    if (state.compare?.on) q.set('compare', 'spark')
    history.replaceState(null, '', `?${q.toString()}`)
  }, 300)
}

async function open(chart: PriceChart, symbol: string, interval: string, around?: number): Promise<void> {
  Object.assign(state, { visibleFrom: 0, visibleTo: 0 })
  await chart.open(symbol, interval, around)
  $('title').textContent = `${symbol} · ${interval}`
  for (const b of $('intervals').querySelectorAll('button'))
    b.classList.toggle('active', b.dataset.interval === interval)
  $('chart-empty').hidden = state.candles > 0
  $('chart-empty').textContent = `No ${interval} bars for ${symbol}: try another interval.`
  saveUrl()
}

/** Where the stream's messages go; the ticker table is set once it exists. */
interface Stream {
  chart: PriceChart
  alerts: AlertsPanel
  tickers?: Tickers
}

/** How long the first load waits for the stream to open before reading without it. */
const STREAM_WAIT_MS = 3000

/**
 * Connects the stream and keeps it connected. The returned promise settles when it first opens: the
 * views are read after that, so what is stored after they are read is streamed to them (before, a
 * bar stored between the read and the connection was missing until it changed again). Each time it
 * opens again, the views are read again for what was stored while it was down.
 */
function connect(stream: Stream): Promise<void> {
  return new Promise((opened) => {
    const open = (attempt: number, again: boolean): void => {
      const ws = new WebSocket(
        `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream`,
      )
      ws.onopen = () => {
        attempt = 0
        state.error = ''
        $('status').textContent = 'live'
        $('status').className = 'status live'
        opened()
        if (!again) return
        state.resyncs++
        void stream.chart.refresh().catch(showError)
        void stream.alerts.load().catch(showError)
        void stream.tickers?.refresh().catch(showError)
      }
      ws.onmessage = (ev: MessageEvent<string>) => {
        const msg = JSON.parse(ev.data) as { type: string; data: Bar & { price: string; size: string } }
        if (msg.type === 'trade') stream.tickers?.trade(msg.data.symbol, msg.data.price, msg.data.size)
        else if (msg.type === 'bar' && stream.chart.live(msg.data)) state.updates++
        else if (msg.type === 'alert') stream.alerts.fired(msg.data as unknown as Firing)
      }
      ws.onclose = () => {
        $('status').textContent = 'reconnecting…'
        $('status').className = 'status'
        setTimeout(
          () => open(attempt + 1, true),
          backoffDelay({ initialMs: 500, maxMs: 10_000, jitter: 'none' }, attempt),
        )
      }
    }
    open(0, false)
  })
}

function panels(): void {
  const health = (): void => void refreshHealth().catch(showError)
  const dead = (): void => void refreshDeadLetters().catch(showError)
  health()
  dead()
  setInterval(health, 2000)
  setInterval(dead, 5000)
}

/**
 * The "vs Spark" button: Spark's bars over the chart's, compared; returns the redraw to call on new
 * data (with the delay to wait at most, LIVE_RELOAD_MS while bars stream in).
 */
function compareToggle(chart: PriceChart, on: boolean): (delayMs?: number) => void {
  const compare = new SparkCompare(chart.chart, $('compare-result'))
  compare.onError = showError
  state.compare = compare.state
  const reload = throttled(() => {
    if (compare.state.on) void compare.load(state.symbol, state.interval, chart.held()).catch(showError)
    else compare.state.loading = false
  })
  const redraw = (delayMs = 150): void => {
    if (!compare.state.on) return
    compare.state.loading = true
    reload(delayMs)
  }
  const set = (value: boolean): void => {
    compare.set(value)
    $('compare').classList.toggle('active', value)
    $('compare').setAttribute('aria-pressed', String(value))
    redraw()
  }
  set(on)
  $('compare').onclick = () => {
    set(!compare.state.on)
    saveUrl(shown.from, shown.to)
  }
  return redraw
}

/** While the store is empty the page says so and asks again every this many ms. */
const EMPTY_POLL_MS = 2000

/**
 * The stored symbols. While there are none the page shows what to run and asks again, so a page
 * opened before the first trade is stored (`tickflow up` still starting) starts by itself.
 */
async function storedSymbols(): Promise<{ symbol: string; lastPrice: string }[]> {
  for (;;) {
    const { data } = await getJson<{ data: { symbol: string; lastPrice: string }[] }>('/api/v1/symbols')
    if (data.length > 0) {
      if (state.empty) {
        Object.assign(state, { empty: false, ready: false })
        document.body.classList.remove('no-data')
        $('empty').hidden = true
        $('workspace').hidden = false
        $('status').textContent = 'connecting…'
      }
      return data
    }
    if (!state.empty) {
      state.empty = true
      document.body.classList.add('no-data')
      $('empty').hidden = false
      $('workspace').hidden = true
      $('status').textContent = 'no data'
      state.ready = true
    }
    await new Promise((r) => setTimeout(r, EMPTY_POLL_MS))
  }
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search)
  panels()
  const data = await storedSymbols()
  const chart = new PriceChart($('chart'), $('legend'), state)
  chart.onError = showError
  const alerts = new AlertsPanel()
  alerts.onError = showError
  state.alerts = alerts.state
  const stream: Stream = { chart, alerts }
  await Promise.race([connect(stream), new Promise((r) => setTimeout(r, STREAM_WAIT_MS))])
  chart.onRange = (from, to) => {
    Object.assign(state, { visibleFrom: from, visibleTo: to })
    saveUrl(from, to)
  }
  const layer = new IndicatorLayer(chart.chart)
  layer.onError = showError
  state.indicators = layer.state
  layer.set(params.get('ind')?.split(/,(?![^(]*\))/) ?? [])
  // Both overlays reload at most once per delay (throttled in reload.ts), one request at a time.
  const reloadIndicators = throttled(() => {
    if (state.first && state.last)
      void layer.load(state.symbol, state.interval, state.first, state.last).catch(showError)
    else layer.state.loading = false
  })
  const redrawIndicators = (delayMs = 150): void => {
    layer.state.loading = true
    reloadIndicators(delayMs)
  }
  const redrawCompare = compareToggle(chart, params.get('compare') === 'spark')
  chart.onData = (_first, _last, live) => {
    redrawIndicators(live ? LIVE_RELOAD_MS : 150)
    redrawCompare(live ? LIVE_RELOAD_MS : 150)
  }
  const renderToolbar = (): void => {
    const labels = [...new Set([...PRESETS, ...layer.state.on])]
    $('indicators').innerHTML = labels
      .map(
        (l) => `<button data-ind="${l}" class="${layer.state.on.includes(l) ? 'active' : ''}">${l}</button>`,
      )
      .join('')
  }
  renderToolbar()
  $('indicators').onclick = (ev) => {
    const l = (ev.target as HTMLElement).dataset.ind
    if (!l) return
    layer.toggle(l)
    renderToolbar()
    redrawIndicators()
    saveUrl(shown.from, shown.to)
  }
  const names = data.map((s) => s.symbol)
  const wanted = params.get('symbol')?.toUpperCase() ?? ''
  const symbol = names.includes(wanted) ? wanted : names[0]!
  const choose = (s: string, i = state.interval): void => void open(chart, s, i).catch(showError)
  const picker = symbolPicker(names, (s) => choose(s))
  picker.set(symbol)
  const tickers = new Tickers(data, (s) => {
    picker.set(s)
    choose(s)
  })
  $('intervals').innerHTML = INTERVALS.map((i) => `<button data-interval="${i}">${i}</button>`).join('')
  $('intervals').onclick = (ev) => {
    const i = (ev.target as HTMLElement).dataset.interval
    if (i) choose(state.symbol, i)
  }
  $<HTMLFormElement>('jump').onsubmit = (ev) => {
    ev.preventDefault()
    const day = Date.parse($<HTMLInputElement>('jump-date').value)
    if (Number.isFinite(day))
      void open(chart, state.symbol, state.interval, day / 1000 + 43_200).catch(showError)
  }
  const from = Date.parse(params.get('from') ?? '') / 1000
  const to = Date.parse(params.get('to') ?? '') / 1000
  const interval = params.get('interval') ?? ''
  if (INTERVALS.includes(interval) && Number.isFinite(from) && Number.isFinite(to)) {
    await open(chart, symbol, interval, (from + to) / 2)
    chart.show(from, to)
  } else if (INTERVALS.includes(interval)) await open(chart, symbol, interval)
  else {
    // No interval asked for: minute bars, or daily ones for a symbol that has only those.
    await open(chart, symbol, '1m')
    if (state.candles === 0) await open(chart, symbol, '1d')
  }
  stream.tickers = tickers
  await tickers.go(Math.floor(names.indexOf(symbol) / Tickers.PAGE))
  setInterval(() => tickers.render(), 1000)
  // the stream is open: a firing stored while the stored ones are read is streamed, not lost
  await alerts.load()
  state.ready = true
}

start().catch(showError)
