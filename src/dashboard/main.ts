// The live dashboard: candlesticks with volume for a symbol and interval (history from
// /api/v1/bars, live from the WebSocket), a ticker table, and a pipeline health panel from /metrics.
// Prices stay decimal strings everywhere except where the chart needs numbers to plot.
import { CandlestickSeries, HistogramSeries, createChart, type UTCTimestamp } from 'lightweight-charts'
import { parseMetrics, quantile, sum, type Samples } from './metrics.ts'

interface Bar {
  symbol: string
  interval: string
  bucket: string
  open: string
  high: string
  low: string
  close: string
  volume: string
  trades: string
  final?: boolean
}
interface Trade {
  symbol: string
  ts: string
  price: string
  size: string
}
interface Ticker {
  symbol: string
  last: string
  reference?: string
  volume: number
}

const INTERVALS = ['1s', '1m', '5m', '1h', '1d']
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const state = {
  symbol: '',
  interval: '1s',
  candles: 0,
  lastClose: '',
  lastVolume: '',
  updates: 0,
  tickers: new Map<string, Ticker>(),
}
// Exposed for the browser test and for the curious.
;(window as unknown as { __tickflow: typeof state }).__tickflow = state

const chart = createChart($('chart'), {
  layout: { background: { color: '#161b22' }, textColor: '#8b949e' },
  grid: { vertLines: { color: '#21262d' }, horzLines: { color: '#21262d' } },
  timeScale: {
    timeVisible: true,
    secondsVisible: true,
    borderColor: '#30363d',
    barSpacing: 12,
    rightOffset: 4,
  },
  rightPriceScale: { borderColor: '#30363d' },
  autoSize: true,
})
const candles = chart.addSeries(CandlestickSeries, {
  upColor: '#26a69a',
  downColor: '#ef5350',
  borderVisible: false,
  wickUpColor: '#26a69a',
  wickDownColor: '#ef5350',
})
const volume = chart.addSeries(HistogramSeries, { priceScaleId: 'volume', priceFormat: { type: 'volume' } })
chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } })

const time = (iso: string): UTCTimestamp => (Date.parse(iso) / 1000) as UTCTimestamp

// The bars on screen by bucket time: a late trade can update an older bar, which the chart only
// accepts through setData (update() takes the last bar or a newer one).
let shown = new Map<number, Bar>()

const candle = (b: Bar) => ({
  time: time(b.bucket),
  open: Number(b.open),
  high: Number(b.high),
  low: Number(b.low),
  close: Number(b.close),
})
const volumeBar = (b: Bar) => ({
  time: time(b.bucket),
  value: Number(b.volume),
  color: Number(b.close) >= Number(b.open) ? '#26a69a66' : '#ef535066',
})

function draw(b: Bar): boolean {
  const t = time(b.bucket)
  const last = Math.max(0, ...shown.keys())
  const isNew = !shown.has(t)
  shown.set(t, b)
  if (t >= last) {
    candles.update(candle(b))
    volume.update(volumeBar(b))
    state.lastClose = b.close
    state.lastVolume = b.volume
    $('last').textContent = `${b.close}  ·  vol ${b.volume}`
  } else {
    const all = [...shown.values()].sort((x, y) => time(x.bucket) - time(y.bucket))
    candles.setData(all.map(candle))
    volume.setData(all.map(volumeBar))
  }
  return isNew
}

async function loadHistory(): Promise<void> {
  const res = await fetch(
    `/api/v1/bars?symbol=${encodeURIComponent(state.symbol)}&interval=${state.interval}&limit=5000&from=${new Date(Date.now() - 86_400_000 * (state.interval === '1d' ? 3650 : 2)).toISOString()}`,
  )
  const { data } = (await res.json()) as { data: Bar[] }
  shown = new Map(data.map((b) => [time(b.bucket), b]))
  candles.setData(data.map(candle))
  volume.setData(data.map(volumeBar))
  state.candles = data.length
  const last = data.at(-1)
  if (last) {
    state.lastClose = last.close
    state.lastVolume = last.volume
    $('last').textContent = `${last.close}  ·  vol ${last.volume}`
  }
  $('title').textContent = `${state.symbol} · ${state.interval}`
  chart.timeScale().scrollToRealTime()
}

function renderTickers(): void {
  const rows = [...state.tickers.values()].sort((a, b) => a.symbol.localeCompare(b.symbol))
  $('tickers').querySelector('tbody')!.innerHTML = rows
    .map((t) => {
      const ref = t.reference ? Number(t.reference) : undefined
      const change = ref ? ((Number(t.last) - ref) / ref) * 100 : 0
      const cls = change > 0 ? 'up' : change < 0 ? 'down' : ''
      return `<tr data-symbol="${t.symbol}"><td>${t.symbol}</td><td>${t.last}</td><td class="${cls}">${change >= 0 ? '+' : ''}${change.toFixed(2)}%</td><td>${Math.round(t.volume).toLocaleString('en')}</td></tr>`
    })
    .join('')
}

function onTrade(t: Trade): void {
  const k = state.tickers.get(t.symbol) ?? { symbol: t.symbol, last: t.price, reference: t.price, volume: 0 }
  k.last = t.price
  k.volume += Number(t.size)
  state.tickers.set(t.symbol, k)
}

function connect(attempt = 0): void {
  const ws = new WebSocket(
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream`,
  )
  ws.onopen = () => {
    attempt = 0
    $('status').textContent = 'live'
    $('status').className = 'status live'
  }
  ws.onmessage = (ev: MessageEvent<string>) => {
    const msg = JSON.parse(ev.data) as { type: string; data: Bar & Trade }
    if (msg.type === 'trade') onTrade(msg.data)
    else if (msg.type === 'bar' && msg.data.symbol === state.symbol && msg.data.interval === state.interval) {
      if (draw(msg.data)) state.candles++
      state.updates++
    }
  }
  ws.onclose = () => {
    $('status').textContent = 'reconnecting…'
    $('status').className = 'status'
    setTimeout(() => connect(attempt + 1), Math.min(10_000, 500 * 2 ** attempt))
  }
}

let previous: { at: number; samples: Samples } | undefined
async function refreshHealth(): Promise<void> {
  const samples = parseMetrics(await (await fetch('/metrics')).text())
  const now = Date.now()
  const rate = (name: string): string => {
    if (!previous) return '…'
    return `${Math.round((sum(samples, name) - sum(previous.samples, name)) / ((now - previous.at) / 1000)).toLocaleString('en')}/s`
  }
  const p50 = quantile(samples, 'tickflow_end_to_end_latency_seconds', 0.5)
  const p99 = quantile(samples, 'tickflow_end_to_end_latency_seconds', 0.99)
  const rows: [string, string, string][] = [
    ['ingest rate', rate('tickflow_ticks_ingested_total'), 'ingest'],
    ['persist rate', rate('tickflow_ticks_persisted_total'), 'persist'],
    ['consumer lag', `${sum(samples, 'tickflow_consumer_lag').toLocaleString('en')} msgs`, 'lag'],
    ['dead letters', sum(samples, 'tickflow_dead_letters_total').toLocaleString('en'), 'dead'],
    ['latency p50 / p99', p50 === undefined ? '—' : `≤ ${p50 * 1000} / ≤ ${(p99 ?? 0) * 1000} ms`, 'latency'],
    ['trades stored', sum(samples, 'tickflow_ticks_persisted_total').toLocaleString('en'), 'stored'],
  ]
  $('health').innerHTML = rows.map(([k, v, id]) => `<dt>${k}</dt><dd data-metric="${id}">${v}</dd>`).join('')
  previous = { at: now, samples }
}

async function start(): Promise<void> {
  const { data } = (await (await fetch('/api/v1/symbols')).json()) as {
    data: { symbol: string; lastPrice: string }[]
  }
  const picker = $<HTMLSelectElement>('symbol')
  picker.innerHTML = data.map((s) => `<option>${s.symbol}</option>`).join('')
  state.symbol = new URLSearchParams(location.search).get('symbol') ?? data[0]?.symbol ?? ''
  picker.value = state.symbol
  picker.onchange = () => {
    state.symbol = picker.value
    void loadHistory()
  }
  $('intervals').innerHTML = INTERVALS.map(
    (i) => `<button data-interval="${i}" class="${i === state.interval ? 'active' : ''}">${i}</button>`,
  ).join('')
  $('intervals').onclick = (ev) => {
    const i = (ev.target as HTMLElement).dataset.interval
    if (!i) return
    state.interval = i
    for (const b of $('intervals').querySelectorAll('button'))
      b.classList.toggle('active', b.dataset.interval === i)
    void loadHistory()
  }
  $('tickers').onclick = (ev) => {
    const s = (ev.target as HTMLElement).closest('tr')?.dataset.symbol
    if (s) {
      state.symbol = s
      picker.value = s
      void loadHistory()
    }
  }
  if (data.length > 0) {
    const quotes = (await (
      await fetch(`/api/v1/quotes/latest?symbols=${data.map((s) => s.symbol).join(',')}`)
    ).json()) as { data: { symbol: string; price: string; prevClose: string | null }[] }
    for (const q of quotes.data)
      state.tickers.set(q.symbol, {
        symbol: q.symbol,
        last: q.price,
        reference: q.prevClose ?? q.price,
        volume: 0,
      })
  }
  await loadHistory()
  connect()
  setInterval(renderTickers, 500)
  setInterval(() => void refreshHealth(), 2000)
  void refreshHealth()
}

void start()
