// Batch items for TickStore.writeBatch built the way the processor builds them: encoded on the
// wire format, then classified.
import assert from 'node:assert/strict'
import type { BatchItem } from '../../src/domain/types.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'

export function tradeItem(
  offset: number,
  t: { symbol?: string; ts: string; price: string; size?: string; id?: string; partition?: number },
): BatchItem {
  const symbol = t.symbol ?? 'TEST'
  const partition = t.partition ?? 0
  const value = Buffer.from(
    encodeTrade({
      v: 1,
      type: 'trade',
      symbol,
      ts: t.ts,
      price: t.price,
      size: t.size ?? '1',
      source: 'test',
      ...(t.id === undefined ? {} : { id: t.id }),
    }),
  )
  const c = classify({
    topic: 'ticks',
    partition,
    offset: BigInt(offset),
    key: symbol,
    value,
    timestamp: 0,
    headers: {},
  })
  assert.ok(c.ok, `trade at ${t.ts} is valid`)
  return { topic: 'ticks', partition, offset: BigInt(offset), tick: c.tick }
}
