// How the chart's overlays (indicator panes, the Spark comparison) reload while bars stream in.
// Every live bar asks for a reload, many a second on a busy symbol. Two ways that went wrong:
// a debounce that each bar pushed back never fired while trades streamed, and a reload that threw
// away the request before it drew nothing at all once a response took longer than the period.

/**
 * Wraps `run` so that it runs at most once per delay however often it is asked for: a request
 * keeps a run already due sooner, and only moves it earlier.
 */
export function throttled(run: () => void): (delayMs: number) => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  let dueAt = Infinity
  return (delayMs) => {
    const due = performance.now() + delayMs
    if (timer !== undefined && dueAt <= due) return
    clearTimeout(timer)
    dueAt = due
    timer = setTimeout(() => {
      timer = undefined
      dueAt = Infinity
      run()
    }, delayMs)
  }
}

/**
 * One fetch at a time, the newest call winning. A call made while a fetch runs is kept (only the
 * newest) and fetched when that one ends, so a response slower than the calls is still drawn. A
 * response is drawn unless a newer call with another `key` (another symbol, interval or set of
 * lines) is waiting: that one's data replaces it a moment later anyway.
 */
export class LatestFetch<W extends { key: string }, R> {
  readonly #fetch: (want: W) => Promise<R>
  readonly #draw: (result: R, want: W) => void
  #next: W | undefined
  #running: Promise<void> | undefined

  constructor(fetch: (want: W) => Promise<R>, draw: (result: R, want: W) => void) {
    this.#fetch = fetch
    this.#draw = draw
  }

  /** Asks for `want`; resolves once nothing is left to fetch, rejects with a failed fetch. */
  load(want: W): Promise<void> {
    this.#next = want
    this.#running ??= this.#fetchAll().finally(() => (this.#running = undefined))
    return this.#running
  }

  /** Forgets a call still waiting (the one running still ends, and is drawn). */
  drop(): void {
    this.#next = undefined
  }

  async #fetchAll(): Promise<void> {
    try {
      for (let want = this.#next; want; want = this.#next) {
        this.#next = undefined
        const result = await this.#fetch(want)
        const newer = this.#next as W | undefined // set by calls made while fetching
        if (newer && newer.key !== want.key) continue
        this.#draw(result, want)
      }
    } finally {
      this.#next = undefined
    }
  }
}
