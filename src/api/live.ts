// The live tail: committed trades and bar updates fanned out to WebSocket subscribers. In one
// process (`tickflow up`) the processor publishes straight into the hub; `tickflow serve` polls
// the database for what other processes committed (src/api/poller.ts).
//
// Fan-out must never cost the API its CPU or memory: each event is serialized once for every
// client, a client's unsent data is bounded, and a client that stops reading is dropped within
// seconds. A non-reading client is found by heartbeat, not by its send buffer alone: the kernel
// buffers megabytes per socket, which at a few hundred trades a second hides it for minutes.
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { BarUpdate } from '../processor/lateness.ts'

export interface LiveTrade {
  symbol: string
  ts: string
  price: string
  size: string
  source: string
}

/** An alert firing as streamed (and listed by GET /api/v1/alerts/firings). */
export interface LiveAlert {
  id: string
  ruleId: string
  symbol: string
  ts: string
  price: string
  value: string
}

export type LiveEvent =
  { type: 'trade'; data: LiveTrade } | { type: 'bar'; data: BarUpdate } | { type: 'alert'; data: LiveAlert }

/** One event, serialized once: the bytes every subscriber is sent. */
export interface Outgoing {
  symbol: string
  bytes: Buffer
  /** For a bar update: which bar changed (indicator streams recompute from it on). */
  bar?: { interval: string; bucket: string }
}

export type Listener = (events: Outgoing[]) => void

export interface StreamLimits {
  /** Unsent bytes a client may have queued in the process before it is dropped. */
  maxBufferBytes: number
  /** How often each client is pinged. */
  heartbeatMs: number
  /** A client whose pong is this late is dropped: it reads nothing, or is this far behind. */
  pongTimeoutMs: number
  /** After the close frame, how long a dropped client has before its connection is cut. */
  closeGraceMs: number
}

export const STREAM_LIMITS: StreamLimits = {
  maxBufferBytes: 64 * 1024,
  heartbeatMs: 1000,
  pongTimeoutMs: 5000,
  closeGraceMs: 2000,
}

export class LiveHub {
  /** The limits every stream client of this hub is held to. */
  readonly limits: StreamLimits
  readonly #listeners = new Set<{ symbols: Set<string> | null; fn: Listener }>()
  /** Clients dropped for falling behind (buffer) or not answering pings (unresponsive). */
  readonly dropped = { buffer: 0, unresponsive: 0 }

  constructor(limits: Partial<StreamLimits> = {}) {
    this.limits = { ...STREAM_LIMITS, ...limits }
  }

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
    if (events.length === 0 || this.#listeners.size === 0) return
    const out = events.map((e): Outgoing => ({
      symbol: e.data.symbol,
      bytes: Buffer.from(JSON.stringify(e)),
      ...(e.type === 'bar' ? { bar: { interval: e.data.interval, bucket: e.data.bucket } } : {}),
    }))
    for (const l of this.#listeners) {
      const mine = l.symbols ? out.filter((e) => l.symbols!.has(e.symbol)) : out
      if (mine.length > 0) l.fn(mine)
    }
  }
}

const TEXT = { binary: false }

/** Close code of a dropped client. */
export const SLOW_CLIENT = 4000

/** Serves one WebSocket client from the hub until it leaves or is dropped. */
export function serveStream(socket: WebSocket, hub: LiveHub, symbols: Set<string> | null): void {
  const limits = hub.limits
  let pingSentAt: number | undefined
  let dropped = false
  const drop = (why: 'buffer' | 'unresponsive', reason: string): void => {
    if (dropped) return
    dropped = true
    hub.dropped[why]++
    stop()
    socket.close(SLOW_CLIENT, reason)
    // The close frame waits behind what the client has not read; do not wait for it for long.
    setTimeout(() => socket.terminate(), limits.closeGraceMs).unref()
  }
  const unsubscribe = hub.subscribe(symbols, (events) => {
    if (socket.readyState !== socket.OPEN) return
    if (socket.bufferedAmount > limits.maxBufferBytes) {
      drop('buffer', `slow client: more than ${limits.maxBufferBytes} bytes unsent`)
      return
    }
    // Text frames of the shared bytes: ws frames a Buffer without copying or re-encoding it. The
    // frames of one publish leave in one write (cork), not one system call per trade.
    const raw = (socket as unknown as { _socket?: Socket })._socket
    raw?.cork()
    for (const e of events) socket.send(e.bytes, TEXT)
    raw?.uncork()
  })
  const heartbeat = setInterval(() => {
    const now = Date.now()
    if (pingSentAt !== undefined) {
      if (now - pingSentAt > limits.pongTimeoutMs)
        drop('unresponsive', `slow client: no pong within ${limits.pongTimeoutMs} ms`)
      return
    }
    pingSentAt = now
    socket.ping()
  }, limits.heartbeatMs)
  heartbeat.unref()
  function stop(): void {
    clearInterval(heartbeat)
    unsubscribe()
  }
  socket.on('pong', () => (pingSentAt = undefined))
  socket.on('close', stop)
  socket.on('error', stop)
  socket.send(JSON.stringify({ type: 'hello', data: { symbols: symbols ? [...symbols] : 'all' } }))
}
