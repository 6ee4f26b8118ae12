// The producer side: pulls batches from a source and sends them to the bus, keyed by symbol, with
// a bounded number of sends in flight (so a slow broker slows the source instead of filling
// memory). Resolves when the source ends and every send is acknowledged.
import type { Logger } from 'pino'
import type { BusProducer } from '../bus/types.ts'
import type { Metrics } from '../metrics/registry.ts'
import { encodeTrade, type Trade } from '../processor/trade.ts'
import type { Source } from './types.ts'

export interface PumpOptions {
  source: Source
  producer: BusProducer
  topic: string
  log: Logger
  metrics: Metrics
  maxInFlight?: number
  /** Re-chunk source batches to at most this many messages per send. */
  maxSend?: number
  onSent?: (trades: Trade[]) => void
  /** Attempts per batch before the pump gives up (default 30, about two minutes of outage). */
  maxSendAttempts?: number
}

export async function pump(o: PumpOptions): Promise<number> {
  const maxInFlight = o.maxInFlight ?? 4
  const maxSend = o.maxSend ?? 2000
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  let sent = 0
  const send = (trades: Trade[]): Promise<void> => {
    const recvTs = new Date().toISOString()
    const messages = trades.map((t) => ({
      key: t.symbol,
      value: encodeTrade(t.recvTs ? t : { ...t, recvTs }),
    }))
    const p = sendWithRetry(o, messages)
      .then(() => {
        sent += trades.length
        o.metrics.ticksProduced.inc(trades.length)
        o.onSent?.(trades)
      })
      .catch((err: unknown) => {
        failure ??= err
      })
      .finally(() => inFlight.delete(p))
    inFlight.add(p)
    return p
  }
  for await (const batch of o.source.batches()) {
    for (let i = 0; i < batch.length; i += maxSend) {
      void send(batch.slice(i, i + maxSend))
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight)
      if (failure) throw asError(failure)
    }
  }
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
async function sendWithRetry(o: PumpOptions, messages: { key: string; value: string }[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await o.producer.send(o.topic, messages)
    } catch (err) {
      if (attempt >= (o.maxSendAttempts ?? 30)) throw err
      o.log.warn(
        { err: err instanceof Error ? err.message : String(err), attempt },
        'send to the bus failed; retrying',
      )
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(5000, 100 * 2 ** Math.min(attempt, 6))))
    }
  }
}
