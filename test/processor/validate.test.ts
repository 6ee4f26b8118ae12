import { test } from 'node:test'
import assert from 'node:assert/strict'
import { classify, parseIso } from '../../src/processor/validate.ts'
import type { BusMessage } from '../../src/bus/types.ts'

const now = Date.parse('2026-11-24T15:30:00Z')
const good = {
  v: 1,
  type: 'trade',
  symbol: 'AAPL',
  ts: '2026-11-24T15:29:59.123456Z',
  price: '189.23',
  size: '100',
  source: 'finnhub',
  id: 't1',
  recvTs: '2026-11-24T15:30:00.000001Z',
}

function msg(value: unknown, key = 'AAPL'): BusMessage {
  return {
    topic: 'ticks',
    partition: 2,
    offset: 41n,
    key,
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    timestamp: now,
    headers: {},
  }
}

function reason(value: unknown, key?: string, maxSkewMs?: number): string {
  const c = classify(msg(value, key), { maxSkewMs, now: () => now, maxMessageBytes: 1024 })
  return c.ok ? 'ok' : c.dead.reason
}

test('a valid trade becomes a tick with its exact strings', () => {
  const c = classify(msg(good))
  assert.ok(c.ok)
  assert.deepEqual(
    { ...c.tick, raw: c.tick.raw.toString() },
    {
      symbol: 'AAPL',
      ts: good.ts,
      tsMs: Date.parse('2026-11-24T15:29:59.123Z'),
      price: '189.23',
      size: '100',
      source: 'finnhub',
      tradeId: 't1',
      recvTs: good.recvTs,
      topic: 'ticks',
      partition: 2,
      offset: 41n,
      raw: JSON.stringify(good),
    },
  )
})

test('each kind of bad message gets its reason', () => {
  const cases: [unknown, string, string?][] = [
    ['{"v":1', 'malformed_json'],
    ['', 'malformed_json'],
    [{ ...good, price: 189.23 }, 'schema'],
    [{ ...good, type: 'quote' }, 'schema'],
    [{ ...good, source: 'bad source!' }, 'schema'],
    [{ ...good, id: 'a\u0000b' }, 'schema'],
    [{ ...good, v: 2 }, 'unsupported_version'],
    [{ ...good, symbol: 'aapl' }, 'bad_symbol', 'aapl'],
    [{ ...good, symbol: 'THIS-SYMBOL-IS-FAR-TOO-LONG' }, 'bad_symbol', 'THIS-SYMBOL-IS-FAR-TOO-LONG'],
    [{ ...good, symbol: 'MSFT' }, 'key_mismatch'],
    [{ ...good, price: '0' }, 'bad_price'],
    [{ ...good, price: '-1' }, 'bad_price'],
    [{ ...good, price: 'NaN' }, 'bad_price'],
    [{ ...good, price: '1e3' }, 'bad_price'],
    [{ ...good, price: '1000000000000' }, 'bad_price'],
    [{ ...good, price: '01.5' }, 'bad_price'],
    [{ ...good, size: '-1' }, 'bad_size'],
    [{ ...good, size: '1.' }, 'bad_size'],
    [{ ...good, ts: '2026-11-31T10:00:00Z' }, 'bad_timestamp'],
    [{ ...good, ts: '2026-11-24 15:30:00' }, 'bad_timestamp'],
    [{ ...good, ts: '1969-12-31T23:59:59Z' }, 'bad_timestamp'],
    [{ ...good, recvTs: 'soon' }, 'bad_timestamp'],
    [{ ...good, ts: '2026-11-24T14:29:00Z' }, 'timestamp_skew'],
    [{ ...good, pad: 'x'.repeat(2000) }, 'oversized'],
  ]
  for (const [value, want, key] of cases)
    assert.equal(reason(value, key, 3_600_000 - 1), want, JSON.stringify(value).slice(0, 80))
  assert.equal(reason({ ...good, size: '0' }), 'ok') // zero-size prints exist (odd lots, corrections)
  assert.equal(reason({ ...good, symbol: 'BRK.B' }, 'BRK.B'), 'ok')
  assert.equal(reason(good, ''), 'ok') // no key: nothing to mismatch
})

test('timestamps are strict ISO-8601 UTC', () => {
  assert.equal(parseIso('2026-11-24T15:30:00Z'), Date.parse('2026-11-24T15:30:00Z'))
  assert.equal(parseIso('2026-11-24T15:30:00.123456789Z'), Date.parse('2026-11-24T15:30:00.123Z'))
  assert.equal(parseIso('2024-02-29T00:00:00Z'), Date.parse('2024-02-29T00:00:00Z'))
  assert.equal(parseIso('2023-02-29T00:00:00Z'), undefined)
  assert.equal(parseIso('2026-11-24T15:30:00+01:00'), undefined)
})
