// The side panels: a searchable symbol picker, the ticker table (paged, quotes fetched for the page
// shown, at most 100 symbols a request as the API accepts), pipeline health and dead letters.
import { getJson } from './api.ts'
import { compact, decimal, escapeHtml } from './format.ts'
import { parseMetrics, quantile, sum, type Samples } from './metrics.ts'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

/** A text box that filters the symbols as one types; Enter or a click picks one. */
export function symbolPicker(symbols: string[], onPick: (s: string) => void): { set(s: string): void } {
  const input = $<HTMLInputElement>('symbol')
  const list = $<HTMLUListElement>('symbol-list')
  const render = (): void => {
    const q = input.value.trim().toUpperCase()
    const hits = symbols
      .filter((s) => s.includes(q))
      .sort((a, b) => Number(!a.startsWith(q)) - Number(!b.startsWith(q)))
    list.innerHTML = hits
      .slice(0, 50)
      .map((s) => `<li role="option" data-symbol="${escapeHtml(s)}">${escapeHtml(s)}</li>`)
      .join('')
    list.hidden = hits.length === 0 || document.activeElement !== input
  }
  input.addEventListener('input', render)
  input.addEventListener('focus', () => {
    input.select()
    render()
  })
  input.addEventListener('blur', () => setTimeout(() => (list.hidden = true), 150))
  input.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return
    const first = list.querySelector('li')?.dataset.symbol
    if (first) pick(first)
  })
  list.addEventListener('mousedown', (ev) => {
    const s = (ev.target as HTMLElement).closest('li')?.dataset.symbol
    if (s) pick(s)
  })
  const pick = (s: string): void => {
    input.value = s
    list.hidden = true
    input.blur()
    onPick(s)
  }
  return { set: (s) => void (input.value = s) }
}

interface Quote {
  symbol: string
  price: string
  prevClose: string | null
}

export class Tickers {
  static readonly PAGE = 20
  readonly #symbols: { symbol: string; lastPrice: string }[]
  readonly #quotes = new Map<string, { last: string; reference: string | null; volume: number }>()
  #page = 0

  constructor(symbols: { symbol: string; lastPrice: string }[], onPick: (s: string) => void) {
    this.#symbols = symbols
    $('tickers').onclick = (ev) => {
      const s = (ev.target as HTMLElement).closest('tr')?.dataset.symbol
      if (s) onPick(s)
    }
    $('tickers-prev').onclick = () => void this.go(this.#page - 1)
    $('tickers-next').onclick = () => void this.go(this.#page + 1)
  }

  get pages(): number {
    return Math.max(1, Math.ceil(this.#symbols.length / Tickers.PAGE))
  }

  /** Shows page `n` and fetches its quotes (one request: a page is within the API's 100). */
  async go(n: number): Promise<void> {
    this.#page = Math.min(Math.max(0, n), this.pages - 1)
    const shown = this.#visible().map((s) => s.symbol)
    this.render()
    if (shown.length === 0) return
    const { data } = await getJson<{ data: Quote[] }>(`/api/v1/quotes/latest?symbols=${shown.join(',')}`)
    for (const q of data) {
      const k = this.#quotes.get(q.symbol)
      this.#quotes.set(q.symbol, { last: q.price, reference: q.prevClose ?? q.price, volume: k?.volume ?? 0 })
    }
    this.render()
  }

  /** Reads the shown page's quotes again. */
  refresh(): Promise<void> {
    return this.go(this.#page)
  }

  #visible() {
    return this.#symbols.slice(this.#page * Tickers.PAGE, (this.#page + 1) * Tickers.PAGE)
  }

  trade(symbol: string, price: string, size: string): void {
    const k = this.#quotes.get(symbol) ?? { last: price, reference: price, volume: 0 }
    k.last = price
    k.volume += Number(size)
    this.#quotes.set(symbol, k)
  }

  render(): void {
    $('tickers').querySelector('tbody')!.innerHTML = this.#visible()
      .map(({ symbol, lastPrice }) => {
        const q = this.#quotes.get(symbol)
        const last = q?.last ?? lastPrice
        const ref = q?.reference ? Number(q.reference) : undefined
        const change = ref ? ((Number(last) - ref) / ref) * 100 : 0
        const cls = change > 0 ? 'up' : change < 0 ? 'down' : ''
        return `<tr data-symbol="${escapeHtml(symbol)}"><td>${escapeHtml(symbol)}</td><td>${decimal(last)}</td><td class="${cls}">${change >= 0 ? '+' : ''}${change.toFixed(2)}%</td><td>${compact(q?.volume ?? 0)}</td></tr>`
      })
      .join('')
    $('tickers-page').textContent = `${this.#page + 1} / ${this.pages}`
  }
}

let previous: { at: number; samples: Samples } | undefined

/** Rates and latency from /metrics; what is stored from /api/v1/stats (true in any process). */
export async function refreshHealth(): Promise<void> {
  const [text, stats] = await Promise.all([
    fetch('/metrics').then((r) => r.text()),
    getJson<{ symbols: number; trades: string; deadLetters: string }>('/api/v1/stats'),
  ])
  const samples = parseMetrics(text)
  const now = Date.now()
  const rate = (name: string): string => {
    if (!previous) return '…'
    const v = (sum(samples, name) - sum(previous.samples, name)) / ((now - previous.at) / 1000)
    return `${compact(Math.max(0, Math.round(v)))}/s`
  }
  const ms = (q: number): string => {
    const v = quantile(samples, 'tickflow_end_to_end_latency_seconds', q)
    if (v === undefined) return '—'
    const x = v * 1000
    return `${x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : compact(x)} ms`
  }
  const rows: [string, string, string][] = [
    ['ingest rate', rate('tickflow_ticks_ingested_total'), 'ingest'],
    ['persist rate', rate('tickflow_ticks_persisted_total'), 'persist'],
    ['consumer lag', `${compact(sum(samples, 'tickflow_consumer_lag'))} msgs`, 'lag'],
    ['latency p50 / p99', `${ms(0.5)} / ${ms(0.99)}`, 'latency'],
    ['symbols', compact(stats.symbols), 'symbols'],
    ['trades stored', Number(stats.trades).toLocaleString('en'), 'stored'],
    ['dead letters', Number(stats.deadLetters).toLocaleString('en'), 'dead'],
  ]
  $('health').innerHTML = rows.map(([k, v, id]) => `<dt>${k}</dt><dd data-metric="${id}">${v}</dd>`).join('')
  previous = { at: now, samples }
}

interface DeadLetter {
  receivedAt: string
  reason: string
  detail: string | null
}

export async function refreshDeadLetters(): Promise<void> {
  const [reasons, latest] = await Promise.all([
    getJson<{ data: { reason: string; count: string }[] }>('/api/v1/dead-letters/reasons'),
    getJson<{ data: DeadLetter[] }>('/api/v1/dead-letters?order=desc&limit=8'),
  ])
  $('dead-reasons').innerHTML =
    reasons.data.length === 0
      ? '<li class="muted">none: every message was stored</li>'
      : reasons.data
          .map(
            (r) =>
              `<li><span class="reason">${escapeHtml(r.reason)}</span> ${Number(r.count).toLocaleString('en')}</li>`,
          )
          .join('')
  $('dead-latest').querySelector('tbody')!.innerHTML = latest.data
    .map(
      (d) =>
        `<tr><td>${escapeHtml(d.receivedAt.slice(5, 19).replace('T', ' '))}</td><td class="reason">${escapeHtml(d.reason)}</td><td>${escapeHtml(d.detail ?? '')}</td></tr>`,
    )
    .join('')
}
