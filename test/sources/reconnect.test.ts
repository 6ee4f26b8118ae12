// The shared pieces of the provider adapters: backoff bounds, exact numbers and event times.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  Backoff,
  RecentKeys,
  decimalString,
  eventTime,
  reconnectOptions,
  redact,
} from '../../src/sources/reconnect.ts'

test('backoff: exponential bound with full jitter, capped, reset, and a give-up count', () => {
  const o = reconnectOptions.parse({ initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 6 })
  const top = new Backoff(o, () => 0.999999)
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map(() => top.next()),
    [99, 199, 399, 799, 999, 999],
  )
  assert.equal(top.next(), undefined)
  top.reset()
  assert.equal(top.next(), 99)
  const zero = new Backoff(o, () => 0)
  assert.equal(zero.next(), 0)
  const unbounded = new Backoff(reconnectOptions.parse({}), Math.random)
  for (let i = 0; i < 2000; i++) {
    const d = unbounded.next()!
    assert.ok(d >= 0 && d < 30_000)
  }
  assert.deepEqual(reconnectOptions.parse(undefined), {
    initialDelayMs: 500,
    maxDelayMs: 30_000,
    resetAfterMs: 60_000,
    maxAttempts: 0,
  })
})

test('JSON numbers become their exact shortest decimal, never exponent notation', () => {
  assert.equal(decimalString(122.1), '122.1')
  assert.equal(decimalString(189.23), '189.23')
  assert.equal(decimalString(1e-7), '0.0000001')
  assert.equal(decimalString(1.5e-9), '0.0000000015')
  assert.equal(decimalString(1e21), '1000000000000000000000')
  assert.equal(decimalString(2.5e21), '2500000000000000000000')
  assert.equal(decimalString(100), '100')
  assert.equal(decimalString('61800.30'), '61800.30')
  assert.equal(decimalString('1e5'), undefined)
  assert.equal(decimalString(-1), undefined)
  assert.equal(decimalString(Number.NaN), undefined)
  assert.equal(decimalString(null), undefined)
})

test('provider timestamps become ISO UTC with microseconds, exactly', () => {
  assert.equal(eventTime(1672348887195), '2022-12-29T21:21:27.195000Z')
  assert.equal(eventTime(1672348887195123), '2022-12-29T21:21:27.195123Z')
  assert.equal(eventTime('2021-02-22T15:51:44.208123456Z'), '2021-02-22T15:51:44.208123Z')
  assert.equal(eventTime('2021-02-22T10:51:44.2-05:00'), '2021-02-22T15:51:44.200000Z')
  assert.equal(eventTime('2021-02-22T15:51:44Z'), '2021-02-22T15:51:44.000000Z')
  assert.equal(eventTime('yesterday'), undefined)
  assert.equal(eventTime(-5), undefined)
  assert.equal(eventTime('1672348887195'), undefined)
})

test('recent keys remember a bounded window; secrets are redacted', () => {
  const k = new RecentKeys(3)
  assert.deepEqual(
    ['a', 'b', 'a', 'c', 'd', 'a'].map((x) => k.add(x)),
    [true, true, false, true, true, true],
  )
  assert.equal(redact('wss://x?token=abc&t=abc', ['abc']), 'wss://x?token=***&t=***')
})
