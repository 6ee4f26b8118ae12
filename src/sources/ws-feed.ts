// The WebSocket connection loop the streaming adapters run: reconnect with the provider's backoff,
// resubscribe on reconnect (the protocol's onOpen runs on every connection), an idle watchdog, one
// fatal error instead of a reconnect storm, backpressure on a slow consumer, and secrets kept out
// of messages. A provider supplies its protocol: what to send on open and stop, and what a frame is.
import WebSocket from 'ws'
import { ServiceError, TickflowError, errorMessage } from '../errors.ts'
import type { Trade } from '../domain/trade.ts'
import { Backoff } from '../util/backoff.ts'
import { sleep } from '../util/timeout.ts'
import { authError, redact, type FeedStats, type ReconnectOptions } from './provider.ts'
import type { SourceDeps } from './types.ts'

/** What a protocol handler can do on its connection. */
export interface FeedContext {
  send(message: unknown): void
  trade(t: Trade): void
  malformed(why: string, frame: string): void
  readonly stats: FeedStats
}

/** A provider's WebSocket protocol; one instance per connection. */
export interface FeedProtocol {
  onOpen?(ctx: FeedContext): void
  /** One text frame. Throw a TickflowError: retryable = reconnect, not retryable = stop with it. */
  onMessage(text: string, ctx: FeedContext): void
  /** Sent before a clean stop (e.g. unsubscribe). */
  onStop?(ctx: FeedContext): void
}

export interface WsFeedOptions {
  name: string
  deps: SourceDeps
  stats: FeedStats
  /** Connection URL (may hold a token) and the same without secrets, for messages. */
  url: string
  safeUrl: string
  secrets: string[]
  reconnect: ReconnectOptions
  connectTimeoutMs: number
  /** Reconnect when nothing arrived for this long (0 = off). */
  idleTimeoutMs: number
  /** 'messages': only data frames count (a provider whose stream can die with the socket alive);
   * 'any': pings and pongs count too, and the client pings when it is quiet. */
  watch: 'messages' | 'any'
  protocol: () => FeedProtocol
}

/** Trades from a provider WebSocket, reconnecting until the signal aborts or a fatal error. */
export async function* webSocketFeed(o: WsFeedOptions): AsyncGenerator<Trade[]> {
  const { signal, log, metrics } = o.deps
  const backoff = new Backoff(o.reconnect)
  while (!signal.aborted) {
    if (o.stats.connections > 0) {
      o.stats.reconnects++
      metrics.sourceReconnects.inc({ source: o.name })
    }
    o.stats.connections++
    let conn: Connection
    try {
      conn = new Connection(o)
    } catch (err) {
      // ws throws at once on a malformed URL, and its message would quote the URL (and a token).
      throw new ServiceError(
        o.name,
        `${o.name}: cannot connect to ${o.safeUrl}: ${redact(errorMessage(err), o.secrets)}`,
        {
          retryable: false,
          cause: undefined,
        },
      )
    }
    try {
      for (let batch = await conn.next(); batch; batch = await conn.next()) yield batch
    } finally {
      conn.close()
    }
    if (conn.fatal) throw conn.fatal
    if (signal.aborted) break
    if (conn.upSince !== undefined && Date.now() - conn.upSince >= o.reconnect.resetAfterMs) backoff.reset()
    const delay = backoff.next()
    if (delay === undefined)
      throw new ServiceError(
        o.name,
        `${o.name}: gave up after ${o.reconnect.maxAttempts} failed connections (${conn.reason})`,
      )
    const wait = Math.max(delay, conn.retryAfterMs)
    log.warn(
      { url: o.safeUrl, reason: conn.reason, delayMs: wait, attempt: backoff.attempts },
      `${o.name} disconnected, reconnecting`,
    )
    await sleep(wait, signal)
  }
  log.info({ stats: o.stats }, `${o.name} stopped`)
}

/** One WebSocket connection: its frames become trades in a queue the generator drains. */
class Connection {
  fatal?: Error
  reason = 'closed'
  retryAfterMs = 0
  upSince?: number
  private readonly o: WsFeedOptions
  private readonly ws: WebSocket
  private queue: Trade[] = []
  private ended = false
  private wake?: () => void
  private lastActivity = Date.now()
  private timer?: NodeJS.Timeout
  private readonly ctx: FeedContext
  private readonly protocol: FeedProtocol
  private readonly onAbort = (): void => this.stop()

  constructor(o: WsFeedOptions) {
    this.o = o
    this.protocol = o.protocol()
    const ws = new WebSocket(o.url, { handshakeTimeout: o.connectTimeoutMs })
    this.ws = ws
    this.ctx = {
      send: (m) => ws.readyState === WebSocket.OPEN && ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
      trade: (t) => this.push(t),
      malformed: (why, frame) => this.malformed(why, frame),
      stats: o.stats,
    }
    ws.on('open', () => this.opened())
    ws.on('message', (data) => {
      this.lastActivity = Date.now()
      this.handle(
        Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]),
      )
    })
    const alive = (): void => {
      if (o.watch === 'any') this.lastActivity = Date.now()
    }
    ws.on('ping', alive)
    ws.on('pong', alive)
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0
      res.resume()
      this.refused(status, res.headers['retry-after'])
      ws.terminate()
    })
    ws.on('error', (err) => {
      if (this.reason === 'closed') this.reason = redact(errorMessage(err), o.secrets)
    })
    ws.on('close', (code) => {
      if (this.reason === 'closed') this.reason = `closed (${code})`
      this.end()
    })
    o.deps.signal.addEventListener('abort', this.onAbort, { once: true })
  }

  private opened(): void {
    this.upSince = Date.now()
    this.lastActivity = Date.now()
    this.o.deps.log.info({ url: this.o.safeUrl }, `${this.o.name} connected`)
    this.guard(() => this.protocol.onOpen?.(this.ctx))
    if (this.o.idleTimeoutMs > 0) {
      const every = Math.max(10, Math.min(this.o.idleTimeoutMs / 4, 5000))
      this.timer = setInterval(() => this.watchdog(), every)
    }
  }

  private watchdog(): void {
    const quiet = Date.now() - this.lastActivity
    if (quiet > this.o.idleTimeoutMs) {
      this.reason = `no data for ${quiet} ms`
      this.ws.terminate()
    } else if (this.o.watch === 'any' && quiet > this.o.idleTimeoutMs / 3) this.ws.ping()
  }

  private handle(data: Buffer): void {
    const text = data.toString('utf8')
    this.guard(() => this.protocol.onMessage(text, this.ctx))
  }

  /** Runs protocol code: a thrown TickflowError decides between reconnecting and stopping. */
  private guard(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      const message = redact(errorMessage(err), this.o.secrets)
      if (err instanceof TickflowError && !err.retryable) this.fatal = err
      this.reason = message
      this.ws.terminate()
    }
  }

  private refused(status: number, retryAfter: string | string[] | undefined): void {
    this.reason = `HTTP ${status} on connect`
    const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
    if (Number.isFinite(seconds) && seconds > 0) this.retryAfterMs = Math.min(seconds * 1000, 3_600_000)
    if (status === 401 || status === 403) this.fatal = authError(this.o.name, `HTTP ${status}`)
    else if (status >= 400 && status < 500 && status !== 408 && status !== 418 && status !== 429)
      this.fatal = new ServiceError(
        this.o.name,
        `${this.o.name}: ${this.o.safeUrl} refused the connection with HTTP ${status}`,
        {
          retryable: false,
        },
      )
  }

  private push(t: Trade): void {
    this.queue.push(t)
    this.o.stats.trades++
    this.o.deps.metrics.ticksIngested.inc({ source: this.o.name })
    this.o.deps.metrics.feedLastTickAt.set(this.o.name, Date.now())
    // A consumer slower than the feed: stop reading the socket instead of growing without bound.
    if (this.queue.length >= 100_000 && !this.ws.isPaused) this.ws.pause()
    this.notify()
  }

  private malformed(why: string, frame: string): void {
    const n = ++this.o.stats.malformed
    if (n <= 10 || n % 1000 === 0)
      this.o.deps.log.warn(
        { why, frame: redact(frame.slice(0, 200), this.o.secrets), count: n },
        `${this.o.name}: ignored a frame`,
      )
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private end(): void {
    this.ended = true
    clearInterval(this.timer)
    this.o.deps.signal.removeEventListener('abort', this.onAbort)
    this.notify()
  }

  /** A clean stop: say goodbye to the provider, then close. */
  private stop(): void {
    this.reason = 'stopped'
    if (this.ws.readyState === WebSocket.OPEN) {
      this.guard(() => this.protocol.onStop?.(this.ctx))
      this.ws.close(1000)
      // A provider that never answers the close frame must not hold the process for ws's 30 s.
      setTimeout(() => this.ws.terminate(), 1000).unref()
    } else this.ws.terminate()
    this.end()
  }

  /** The trades received so far (waiting for some), or undefined once the connection is over. */
  async next(): Promise<Trade[] | undefined> {
    while (this.queue.length === 0 && !this.ended) await new Promise<void>((r) => (this.wake = r))
    if (this.queue.length === 0) return undefined
    const out = this.queue
    this.queue = []
    if (this.ws.isPaused) this.ws.resume()
    return out
  }

  close(): void {
    if (!this.ended) {
      this.ws.terminate()
      this.end()
    }
  }
}
