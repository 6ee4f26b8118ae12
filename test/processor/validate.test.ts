import { test } from 'node:test'
import assert from 'node:assert/strict'
import { classify, parseIso } from '../../src/processor/validate.ts'
import type { BusMessage } from '../../src/bus/types.ts'
import { UNPARSED_HEADER } from '../../src/domain/trade.ts'

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

function msg(value: unknown, key: string | null = 'AAPL'): BusMessage {
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
      micros: Date.parse('2026-11-24T15:29:59.123Z') * 1000 + 456,
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
    [{ ...good, id: 'a\u0000b' }, 'bad_trade_id'],
    [{ ...good, id: '' }, 'bad_trade_id'],
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
  assert.equal(reason(good, ''), 'key_mismatch')
})

test('timestamps are strict ISO-8601 UTC', () => {
  assert.equal(parseIso('2026-11-24T15:30:00Z'), Date.parse('2026-11-24T15:30:00Z'))
  assert.equal(parseIso('2026-11-24T15:30:00.123456789Z'), Date.parse('2026-11-24T15:30:00.123Z'))
  assert.equal(parseIso('2024-02-29T00:00:00Z'), Date.parse('2024-02-29T00:00:00Z'))
  assert.equal(parseIso('2023-02-29T00:00:00Z'), undefined)
  assert.equal(parseIso('2026-11-24T15:30:00+01:00'), undefined)
})

test('a message without a key is a dead letter, not a trade that skips the key check', () => {
  const c = classify(msg(good, null))
  assert.ok(!c.ok)
  assert.equal(c.dead.reason, 'missing_key')
  assert.equal(c.dead.key, '')
})

test('trade ids with lone surrogates are dead letters, so distinct ids cannot collide', () => {
  for (const raw of ['\\ud800', '\\ud801', '\\udfff', 'a\\ud800b', '\\udc00\\ud800']) {
    // The escapes as a producer writes them on the wire: JSON.parse makes lone surrogates of them.
    const value = JSON.stringify({ ...good, id: 'X' }).replace('"id":"X"', `"id":"${raw}"`)
    const c = classify(msg(value))
    assert.ok(!c.ok, raw)
    assert.equal(c.dead.reason, 'bad_trade_id', raw)
    assert.match(c.dead.detail, /surrogate/)
  }
  // A well-formed pair (an emoji) is a valid id, kept exactly.
  const pair = JSON.stringify({ ...good, id: 'X' }).replace('"id":"X"', '"id":"\\ud83d\\ude00"')
  const ok = classify(msg(pair))
  assert.ok(ok.ok)
  assert.equal(ok.tick.tradeId, '\u{1F600}')
})

test('event times too far ahead are dead letters; history is not', () => {
  const opts = { maxFutureMs: 3_600_000, now: () => now }
  const at = (ts: string): string => {
    const c = classify(msg({ ...good, ts }), opts)
    return c.ok ? 'ok' : c.dead.reason
  }
  assert.equal(at('2199-01-01T00:00:00Z'), 'future_timestamp')
  assert.equal(at('2026-11-24T16:30:01Z'), 'future_timestamp')
  assert.equal(at('2026-11-24T16:29:59Z'), 'ok')
  assert.equal(at('1999-01-04T14:30:00Z'), 'ok')
})

test('fraction digits past microseconds are truncated: one instant for the value, its day and its bars', () => {
  const c = classify(msg({ ...good, ts: '2020-01-01T23:59:59.9999999Z' }))
  assert.ok(c.ok)
  assert.equal(c.tick.ts, '2020-01-01T23:59:59.999999Z')
  assert.equal(c.tick.micros, Date.parse('2020-01-01T23:59:59.999Z') * 1000 + 999)
  assert.equal(c.tick.tsMs, Date.parse('2020-01-01T23:59:59.999Z'))
  const plain = classify(msg({ ...good, ts: '2026-11-24T15:30:00Z', recvTs: '2026-11-24T15:30:00.1234567Z' }))
  assert.ok(plain.ok)
  assert.equal(plain.tick.ts, '2026-11-24T15:30:00.000000Z')
  assert.equal(plain.tick.recvTs, '2026-11-24T15:30:00.123456Z')
})

test('a record marked unparsed by its source is an unparsed_record dead letter keeping its bytes', () => {
  const line = 'BTCUSD,2024-11-03 01:30:00,68910.00,1'
  const c = classify({
    ...msg(line, 'BTCUSD'),
    headers: { [UNPARSED_HEADER]: 'time "2024-11-03 01:30:00" cannot be read' },
  })
  assert.ok(!c.ok)
  assert.deepEqual(
    { reason: c.dead.reason, detail: c.dead.detail, key: c.dead.key, payload: c.dead.payload.toString() },
    {
      reason: 'unparsed_record',
      detail: 'time "2024-11-03 01:30:00" cannot be read',
      key: 'BTCUSD',
      payload: line,
    },
  )
  // Even when the line happens to be a valid trade, the source's verdict stands.
  const marked = classify({ ...msg(good), headers: { [UNPARSED_HEADER]: 'no size' } })
  assert.equal(marked.ok ? 'ok' : marked.dead.reason, 'unparsed_record')
})
