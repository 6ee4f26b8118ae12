// The alerts panel: a form that creates a rule through POST /api/v1/alerts (the fields shown follow
// the kind), the rules with a delete button each, and the firings, newest first: the stored ones
// on load, then each one as the WebSocket delivers it. A refused rule shows the API's own message
// and marks the field it names.
import { getJson, sendJson, ApiError } from './api.ts'
import { decimal, escapeHtml } from './format.ts'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

interface Rule {
  id: string
  name: string | null
  kind: string
  symbols: string[]
  direction: 'up' | 'down'
  params: Record<string, string | number>
}

export interface Firing {
  id: string
  ruleId: string
  symbol: string
  ts: string
  price: string
  value: string
}

/** What the browser tests read (window.__tickflow.alerts). */
export interface AlertsState {
  rules: number
  firings: number
  /** The message of the last refused create ('' after a success). */
  error: string
  /** The field the API named in that refusal. */
  field: string
}

/** The most firings kept on the page. */
const SHOWN = 50
/** Form fields sent as whole numbers (the API refuses a string there); the rest as typed. */
const INTEGERS = new Set(['window', 'period'])

/** "AAPL" or "AAPL, MSFT" → the symbol or the symbols of the request body. */
function symbolsOf(text: string): { symbol: string } | { symbols: string[] } {
  const list = text
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== '')
  return list.length === 1 ? { symbol: list[0]! } : { symbols: list }
}

/** The request body of the form: the shared fields and those of the kind chosen. */
export function ruleBody(form: HTMLFormElement): Record<string, unknown> {
  const value = (name: string): string =>
    (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null)?.value.trim() ?? ''
  const kind = value('kind')
  const body: Record<string, unknown> = { kind, ...symbolsOf(value('symbols')) }
  body.direction = kind === 'volume_spike' ? 'up' : value('direction')
  if (kind === 'indicator_cross') body.indicator = 'rsi'
  for (const el of form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-kinds] [name]')) {
    if (!el.closest<HTMLElement>('[data-kinds]')!.dataset.kinds!.split(' ').includes(kind)) continue
    const v = el.value.trim()
    if (v === '') continue // the API names the missing field
    body[el.name] = INTEGERS.has(el.name) && /^-?\d+$/.test(v) ? Number(v) : v
  }
  for (const optional of ['name', 'webhook']) if (value(optional) !== '') body[optional] = value(optional)
  return body
}

/** "price ≥ 189.5", "move ≥ 2% in 60 s", … : a rule's condition in a few words. */
export function describe(r: Rule): string {
  const p = r.params
  const arrow = r.direction === 'up' ? '↑' : '↓'
  switch (r.kind) {
    case 'price_cross':
      return `price crosses ${arrow} ${String(p.level)}`
    case 'percent_move':
      return `moves ${arrow} ${String(p.percent)}% within ${String(p.windowSeconds)} s`
    case 'volume_spike':
      return `${String(p.interval)} volume ≥ ${String(p.multiple)}× mean of ${String(p.period)} bars`
    case 'indicator_cross':
      return `RSI(${String(p.period)}) @${String(p.interval)} crosses ${arrow} ${String(p.threshold)}`
    default:
      return r.kind
  }
}

export class AlertsPanel {
  readonly state: AlertsState = { rules: 0, firings: 0, error: '', field: '' }
  onError: (err: unknown) => void = () => {}
  #rules: Rule[] = []
  #firings: Firing[] = []
  readonly #form = $<HTMLFormElement>('alert-form')

  constructor() {
    const kind = this.#form.elements.namedItem('kind') as HTMLSelectElement
    kind.onchange = () => this.#showFields(kind.value)
    this.#showFields(kind.value)
    this.#form.onsubmit = (ev) => {
      ev.preventDefault()
      void this.#create()
    }
    $('alert-rules').onclick = (ev) => {
      const id = (ev.target as HTMLElement).closest<HTMLElement>('[data-delete]')?.dataset.delete
      if (id) void this.#delete(id).catch((err: unknown) => this.onError(err))
    }
  }

  /** The rules and the latest stored firings. */
  async load(): Promise<void> {
    const [{ rules }, { firings }] = await Promise.all([
      getJson<{ rules: Rule[] }>('/api/v1/alerts'),
      getJson<{ firings: Firing[] }>(`/api/v1/alerts/firings?limit=${SHOWN}`),
    ])
    this.#rules = rules
    // a firing streamed while these were read is kept
    const seen = new Set(this.#firings.map((f) => f.id))
    this.#firings = [...this.#firings, ...firings.filter((f) => !seen.has(f.id))].slice(0, SHOWN)
    this.#render()
  }

  /** A firing from the WebSocket (a repeat of one shown is ignored). */
  fired(f: Firing): void {
    if (this.#firings.some((x) => x.id === f.id)) return
    this.#firings = [f, ...this.#firings]
      .sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0))
      .slice(0, SHOWN)
    this.#renderFirings()
  }

  #showFields(kind: string): void {
    for (const el of this.#form.querySelectorAll<HTMLElement>('[data-kinds]'))
      el.hidden = !el.dataset.kinds!.split(' ').includes(kind)
  }

  async #create(): Promise<void> {
    for (const el of this.#form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid')
    const message = $('alert-error')
    try {
      const rule = await sendJson<Rule>('POST', '/api/v1/alerts', ruleBody(this.#form))
      Object.assign(this.state, { error: '', field: '' })
      message.hidden = true
      this.#rules.push(rule)
      this.#render()
    } catch (err) {
      if (!(err instanceof ApiError)) return this.onError(err)
      Object.assign(this.state, { error: err.message, field: err.param ?? '' })
      message.textContent = err.message
      message.hidden = false
      const field = this.#form.elements.namedItem(err.param === 'symbol' ? 'symbols' : (err.param ?? ''))
      if (field instanceof HTMLElement) field.setAttribute('aria-invalid', 'true')
    }
  }

  async #delete(id: string): Promise<void> {
    await sendJson('DELETE', `/api/v1/alerts/${encodeURIComponent(id)}`)
    // its firings went with it
    this.#rules = this.#rules.filter((r) => r.id !== id)
    this.#firings = this.#firings.filter((f) => f.ruleId !== id)
    this.#render()
  }

  #render(): void {
    $('alert-rules').querySelector('tbody')!.innerHTML =
      this.#rules.length === 0
        ? '<tr><td colspan="4" class="muted">no rules yet</td></tr>'
        : this.#rules
            .map(
              (r) =>
                `<tr data-rule="${escapeHtml(r.id)}"><td>${escapeHtml(r.name ?? `#${r.id}`)}</td>` +
                `<td>${escapeHtml(r.symbols.join(', '))}</td><td>${escapeHtml(describe(r))}</td>` +
                `<td><button type="button" data-delete="${escapeHtml(r.id)}" aria-label="delete rule ${escapeHtml(r.id)}">delete</button></td></tr>`,
            )
            .join('')
    this.state.rules = this.#rules.length
    this.#renderFirings()
  }

  #renderFirings(): void {
    const names = new Map(this.#rules.map((r) => [r.id, r.name ?? `#${r.id}`]))
    $('alert-firings').querySelector('tbody')!.innerHTML = this.#firings
      .map(
        (f) =>
          `<tr data-firing="${escapeHtml(f.id)}"><td>${escapeHtml(f.ts.replace('T', ' ').replace('Z', ''))}</td>` +
          `<td>${escapeHtml(f.symbol)}</td><td>${escapeHtml(names.get(f.ruleId) ?? `#${f.ruleId}`)}</td>` +
          `<td>${escapeHtml(decimal(f.price))}</td><td>${escapeHtml(f.value)}</td></tr>`,
      )
      .join('')
    $('alert-firings-empty').hidden = this.#firings.length > 0
    this.state.firings = this.#firings.length
  }
}
