// The live tail: committed trades and bar updates fanned out to WebSocket subscribers. In one
// process (`tickflow up`) the processor publishes straight into the hub; `tickflow serve` polls
// the database for what other processes committed (src/api/poller.ts).
import type { BarUpdate } from '../processor/lateness.ts'

export interface LiveTrade {
  symbol: string
  ts: string
  price: string
  size: string
  source: string
}

export type LiveEvent = { type: 'trade'; data: LiveTrade } | { type: 'bar'; data: BarUpdate }

export type Listener = (events: LiveEvent[]) => void

export class LiveHub {
  readonly #listeners = new Set<{ symbols: Set<string> | null; fn: Listener }>()

  /** Subscribes to the given symbols (null = all); returns the unsubscribe function. */
  subscribe(symbols: Set<string> | null, fn: Listener): () => void {
    const entry = { symbols, fn }
    this.#listeners.add(entry)
    return () => this.#listeners.delete(entry)
  }

  get size(): number {
    return this.#listeners.size
  }

  publish(events: LiveEvent[]): void {
    if (events.length === 0) return
    for (const l of this.#listeners) {
      const mine = l.symbols ? events.filter((e) => l.symbols!.has(e.data.symbol)) : events
      if (mine.length > 0) l.fn(mine)
    }
  }
}
