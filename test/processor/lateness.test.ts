import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Watermarks, bucketStart, bucketEnd } from '../../src/processor/lateness.ts'
import type { Tick } from '../../src/domain/types.ts'
import { parseMicros } from '../../src/domain/time.ts'

const tick = (symbol: string, ts: string): Tick => ({
  symbol,
  ts,
  micros: parseMicros(ts)!,
  tsMs: Date.parse(ts),
  price: '1',
  size: '1',
  source: 's',
  tradeId: null,
  recvTs: null,
  topic: 't',
  partition: 0,
  offset: 0n,
  raw: Buffer.alloc(0),
})

test('buckets: UTC for intraday, exchange midnight for daily bars across DST', () => {
  const t = Date.parse('2026-11-24T15:37:42.5Z')
  assert.equal(new Date(bucketStart('1s', t)).toISOString(), '2026-11-24T15:37:42.000Z')
  assert.equal(new Date(bucketStart('5m', t)).toISOString(), '2026-11-24T15:35:00.000Z')
  assert.equal(new Date(bucketStart('1h', t)).toISOString(), '2026-11-24T15:00:00.000Z')
  assert.equal(new Date(bucketStart('1d', t)).toISOString(), '2026-11-24T00:00:00.000Z')
  assert.equal(new Date(bucketStart('1d', t, 'America/New_York')).toISOString(), '2026-11-24T05:00:00.000Z')
  // Summer time: midnight in New York is 04:00 UTC; 02:00 UTC still belongs to the previous day.
  assert.equal(
    new Date(bucketStart('1d', Date.parse('2026-07-01T02:00:00Z'), 'America/New_York')).toISOString(),
    '2026-06-30T04:00:00.000Z',
  )
  // The day DST ends in New York has 25 hours.
  const nov1 = Date.parse('2026-11-01T12:00:00Z')
  assert.equal(
    bucketEnd('1d', nov1, 'America/New_York') - bucketStart('1d', nov1, 'America/New_York'),
    25 * 3_600_000,
  )
})

test('a trade for a bar that ended before the watermark is late; bars behind the watermark are final', () => {
  const w = new Watermarks(5000)
  assert.deepEqual(
    [
      ...w.observe(
        [tick('AAPL', '2026-11-24T15:30:10Z'), tick('AAPL', '2026-11-24T15:31:20Z')],
        ['1s', '1m'],
      ),
    ],
    [],
  )
  // Watermark is 15:31:15: a trade at 15:31:14.5 is late for 1s (bar ended 15:31:15) but not for 1m.
  const late = w.observe(
    [
      tick('AAPL', '2026-11-24T15:31:14.500Z'),
      tick('AAPL', '2026-11-24T15:29:00Z'),
      tick('MSFT', '2026-11-24T10:00:00Z'),
    ],
    ['1s', '1m'],
  )
  assert.deepEqual(Object.fromEntries(late), { '1s': 2, '1m': 1 })
  const bars = w.classify([
    {
      symbol: 'AAPL',
      interval: '1m',
      bucket: '2026-11-24T15:30:00Z',
      open: '1',
      high: '1',
      low: '1',
      close: '1',
      volume: '1',
      vwap: '1',
      trades: '1',
    },
    {
      symbol: 'AAPL',
      interval: '1m',
      bucket: '2026-11-24T15:31:00Z',
      open: '1',
      high: '1',
      low: '1',
      close: '1',
      volume: '1',
      vwap: '1',
      trades: '1',
    },
  ])
  assert.deepEqual(
    bars.map((b) => b.final),
    [true, false],
  )
})
