import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { canonicalTime, formatMicros, parseMicros } from '../../src/domain/time.ts'

const second = '2026-11-24T15:30:07'
// Two other seconds read last push this one out of the two kept.
const forget = (): void => {
  parseMicros('2026-11-24T15:30:08.5Z')
  parseMicros('2026-11-24T15:30:09.5Z')
}

test('a time in the second read last is read exactly as a fresh one, valid or not', () => {
  const tails = [
    'Z',
    '.Z',
    '.1Z',
    '.123456Z',
    '.1234567Z',
    '.123456789Z',
    '.1234567890Z', // ten digits: not a time
    '.12a456Z',
    '.123456',
    '.123456Zx',
    'z',
    '.000001Z',
    '.999999999Z',
    ',5Z',
  ]
  for (const tail of tails) {
    const s = second + tail
    forget() // the full pattern
    const fresh = parseMicros(s)
    parseMicros(`${second}.5Z`) // this second read last: only the fraction is read
    assert.equal(parseMicros(s), fresh, s)
    parseMicros('2026-11-24T15:30:08.5Z') // and as the older of the two kept
    assert.equal(parseMicros(s), fresh, s)
  }
  assert.equal(parseMicros(`${second}.5Z`), Date.parse(`${second}Z`) * 1000 + 500_000)
  assert.equal(parseMicros(`${second}.1234567Z`), Date.parse(`${second}Z`) * 1000 + 123_456)
  assert.equal(parseMicros(`${second}.1234567890Z`), undefined)
})

test('any fraction of 1–9 digits reads the same after its own second as after another', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^\.[0-9]{1,9}Z$|^Z$/), fc.boolean(), (tail, primed) => {
      if (primed) parseMicros(`${second}Z`)
      else forget()
      const got = parseMicros(second + tail)
      const digits = tail === 'Z' ? '' : tail.slice(1, -1)
      assert.equal(got, Date.parse(`${second}Z`) * 1000 + Number(digits.padEnd(6, '0').slice(0, 6)))
    }),
  )
})

test('canonical text: six fraction digits, as formatMicros prints the instant read', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^\.[0-9]{1,9}Z$|^Z$/), (tail) => {
      const s = second + tail
      assert.equal(canonicalTime(s), formatMicros(parseMicros(s)!))
    }),
  )
  assert.equal(canonicalTime(`${second}.123Z`), `${second}.123000Z`)
})
