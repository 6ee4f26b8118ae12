// The producer side: pulls batches from a source and sends them to the bus, keyed by symbol, with
// a bounded number of messages (and sends) in flight, so a slow broker slows the source instead of
// filling memory. Resolves when the source ends and every send is acknowledged.
import type { Logger } from 'pino'
import type { BusProducer, OutMessage } from '../bus/types.ts'
import type { Metrics } from '../metrics/registry.ts'
import { UNPARSED_HEADER, encodeTrade, isUnparsed, type Trade, type UnparsedRecord } from '../domain/trade.ts'
import type { TradeEncoder } from '../bus/wire.ts'
import type { Source } from './types.ts'
import { backoffDelay } from '../util/backoff.ts'
import { InputCutShortError } from '../errors.ts'

export interface PumpOptions {
  source: Source
  producer: BusProducer
  topic: string
  log: Logger
  metrics: Metrics
  /** Sends in flight at most (default 64). */
  maxInFlight?: number
  /** Messages in flight at most (default four sends of `maxSend`). */
  maxInFlightMessages?: number
  /** Re-chunk source batches to at most this many messages per send. */
  maxSend?: number
  onSent?: (records: (Trade | UnparsedRecord)[]) => void
  /** Attempts per batch before the pump gives up (default 30, about two minutes of outage). */
  maxSendAttempts?: number
  /** The wire format (default: the JSON envelope). */
  encode?: TradeEncoder
}

export async function pump(o: PumpOptions): Promise<number> {
  const maxSend = o.maxSend ?? 2000
  // Bounded in messages: a live source hands over small batches (70 trades every 7 ms at 10,000
  // trades/s), and four of them in flight made the pump end the producer's linger early, as it must
  // when it waits.
  const maxInFlight = o.maxInFlight ?? 64
  const maxMessages = o.maxInFlightMessages ?? 4 * maxSend
  const encode = o.encode ?? encodeTrade
  const inFlight = new Set<Promise<void>>()
  let messagesInFlight = 0
  let failure: unknown
  let sent = 0
  const full = (): boolean => inFlight.size >= maxInFlight || messagesInFlight >= maxMessages
  const send = (trades: (Trade | UnparsedRecord)[]): Promise<void> => {
    const recvTs = new Date().toISOString()
    const messages = trades.map((t) =>
      isUnparsed(t)
        ? { key: t.key, value: t.line, headers: { [UNPARSED_HEADER]: t.reason } }
        : { key: t.symbol, value: encode(t.recvTs ? t : { ...t, recvTs }) },
    )
    messagesInFlight += messages.length
    const p = sendWithRetry(o, messages)
      .then(() => {
        sent += trades.length
        o.metrics.ticksProduced.inc(trades.length)
        o.onSent?.(trades)
      })
      .catch((err: unknown) => {
        failure ??= err
      })
      .finally(() => {
        inFlight.delete(p)
        messagesInFlight -= messages.length
      })
    inFlight.add(p)
    return p
  }
  try {
    for await (const batch of o.source.batches()) {
      for (let i = 0; i < batch.length; i += maxSend) {
        void send(batch.slice(i, i + maxSend))
        if (full()) o.producer.flush?.() // no more sends until one is done
        while (full()) await Promise.race(inFlight)
        if (failure) throw asError(failure)
      }
    }
  } catch (err) {
    // A file cut short: what was read before it is sent in full before the command fails.
    if (err instanceof InputCutShortError) {
      o.producer.flush?.()
      await Promise.all(inFlight)
      if (failure) throw asError(failure)
    }
    throw err
  }
  o.producer.flush?.()
  await Promise.all(inFlight)
  if (failure) throw asError(failure)
  o.log.info({ sent, topic: o.topic }, 'source drained')
  return sent
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

/**
 * Sends a batch until the bus acknowledges it. A retry after an ambiguous failure (the broker died
 * after writing) can put a batch in the topic twice; the processor stores each (source, trade id)
 * once and dead-letters the repeat, so ticks stay exact.
 */
/** As the bus client's own retries: 100 ms doubling to 5 s, full jitter. */
const SEND_RETRY = { initialMs: 100, maxMs: 5000, maxDoublings: 6, jitter: 'full' } as const

async function sendWithRetry(o: PumpOptions, messages: OutMessage[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await o.producer.send(o.topic, messages)
    } catch (err) {
      if (attempt >= (o.maxSendAttempts ?? 30)) throw err
      o.log.warn(
        { err: err instanceof Error ? err.message : String(err), attempt },
        'send to the bus failed; retrying',
      )
      await new Promise((r) => setTimeout(r, backoffDelay(SEND_RETRY, attempt)))
    }
  }
}
