// Provider numbers and timestamps into the exact strings of the wire format.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decimalString, eventTime } from '../../src/sources/convert.ts'

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
