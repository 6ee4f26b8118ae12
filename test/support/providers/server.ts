// Loopback WebSocket servers for the provider adapter tests: accept or refuse the upgrade, count
// connection attempts, play a list of frames with a drop (the socket closed under the client,
// no close frame) or a silent spell in the middle, and collect what an adapter yields.
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import pino from 'pino'
import { WebSocketServer, type WebSocket } from 'ws'
import { createMetrics } from '../../../src/metrics/registry.ts'
import { isUnparsed, type Trade } from '../../../src/domain/trade.ts'
import type { Source, SourceDeps } from '../../../src/sources/types.ts'

export interface Client {
  ws: WebSocket
  req: IncomingMessage
  /** 0 for the first accepted connection. */
  index: number
  /** The network drops: FIN after what was sent, no WebSocket close frame. */
  drop(): void
}

export interface LoopbackServer {
  url: string
  /** Upgrade requests seen (refused ones included). */
  readonly upgrades: number
  close(): Promise<void>
}

export async function startWsServer(o: {
  refuse?: (req: IncomingMessage) => number | undefined
  onClient: (c: Client) => void
}): Promise<LoopbackServer> {
  const http = createServer((_req, res) => void res.writeHead(404).end())
  const wss = new WebSocketServer({ noServer: true })
  const sockets = new Set<Duplex>()
  let upgrades = 0
  let accepted = 0
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    const status = o.refuse?.(req)
    if (status !== undefined) {
      socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      o.onClient({ ws, req, index: accepted++, drop: () => void socket.end() })
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    get upgrades() {
      return upgrades
    },
    async close() {
      for (const s of sockets) s.destroy()
      wss.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

/**
 * Frames delivered across connections: the first connection gets frames up to `dropAt` and is then
 * dropped (or, with `silent`, kept open without a word); the next one resends the last `overlap`
 * frames, as a provider replaying recent data would, and continues to the end.
 */
export class FramePlan {
  readonly frames: string[]
  readonly dropAt: number | undefined
  readonly overlap: number
  readonly silent: boolean
  /** Every frame sent, in order, overlaps included. */
  readonly sent: string[] = []
  private cursor = 0
  constructor(frames: string[], o: { dropAt?: number; overlap?: number; silent?: boolean } = {}) {
    this.frames = frames
    this.dropAt = o.dropAt
    this.overlap = o.overlap ?? 0
    this.silent = o.silent ?? false
  }

  async play(c: Client): Promise<void> {
    const firstOfDrop = c.index === 0 && this.dropAt !== undefined
    const from = c.index > 0 ? Math.max(0, this.cursor - this.overlap) : this.cursor
    const to = firstOfDrop ? this.dropAt : this.frames.length
    for (let i = from; i < to; i++) {
      if (c.ws.readyState !== c.ws.OPEN) return
      c.ws.send(this.frames[i]!)
      this.sent.push(this.frames[i]!)
      this.cursor = Math.max(this.cursor, i + 1)
      if (i % 500 === 499) await new Promise((r) => setImmediate(r))
    }
    if (firstOfDrop && !this.silent) c.drop()
  }
}

export interface Harness {
  deps: SourceDeps
  stop: AbortController
  logs: string[]
}

export function harness(): Harness {
  const stop = new AbortController()
  const logs: string[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) })
  return { deps: { log, metrics: createMetrics({ defaultMetrics: false }), signal: stop.signal }, stop, logs }
}

/** Drains a source until `done` says so (then aborts it) or the time runs out. */
export async function collect(
  source: Source,
  h: Harness,
  done: (trades: Trade[]) => boolean,
  timeoutMs = 8000,
): Promise<{ trades: Trade[]; error?: unknown; timedOut: boolean }> {
  const trades: Trade[] = []
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    h.stop.abort()
  }, timeoutMs)
  try {
    for await (const batch of source.batches()) {
      for (const r of batch) {
        if (isUnparsed(r)) throw new Error(`the source passed on an unparsed record: ${r.reason}`)
        trades.push(r)
      }
      if (done(trades)) h.stop.abort()
    }
    return { trades, timedOut }
  } catch (error) {
    return { trades, error, timedOut }
  } finally {
    clearTimeout(timer)
  }
}

/** Reconnect settings that keep a test fast. */
export const quick = { initialDelayMs: 20, maxDelayMs: 100, resetAfterMs: 60_000, maxAttempts: 0 }
