// The sale-condition rule table against the consolidated columns of the CTA and UTP matrices,
// written out again here condition by condition (high/low, last, volume), so a changed entry in the
// table fails its own case.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EVERY_FIELD, US_EQUITY_RULES, effectOf, marketOf, qualify } from '../../src/domain/conditions.ts'

// code → updates high/low, last (open/close), volume: Y or N.
const UTP_MATRIX: Record<string, string> = {
  '@': 'YYY',
  A: 'YYY',
  B: 'YYY',
  C: 'NNY',
  D: 'YYY',
  E: 'NNN',
  F: 'YYY',
  G: 'YNY',
  H: 'NNY',
  I: 'NNY',
  K: 'YYY',
  L: 'YYY',
  M: 'NNN',
  N: 'NNY',
  O: 'YYY',
  P: 'YNY',
  Q: 'NNN',
  R: 'YNY',
  S: 'YYY',
  T: 'NNY',
  U: 'NNY',
  V: 'NNY',
  W: 'NNY',
  X: 'YYY',
  Y: 'YYY',
  Z: 'YNY',
  '1': 'YYY',
  '4': 'YNY',
  '5': 'YYY',
  '6': 'YYY',
  '7': 'NNY',
  '9': 'YYN',
}
const CTA_MATRIX: Record<string, string> = {
  '@': 'YYY',
  B: 'NNY',
  C: 'NNY',
  E: 'YYY',
  F: 'YYY',
  H: 'NNY',
  I: 'NNY',
  K: 'YYY',
  L: 'YYY',
  M: 'NNN',
  N: 'NNY',
  O: 'YYY',
  P: 'YNY',
  Q: 'NNN',
  R: 'YNY',
  T: 'NNY',
  U: 'NNY',
  V: 'NNY',
  X: 'YYY',
  Z: 'YNY',
  '4': 'YNY',
  '5': 'YYY',
  '6': 'YYY',
  '7': 'NNY',
  '9': 'YYN',
}

const expected = (flags: string) => ({
  highLow: flags[0] === 'Y',
  last: flags[1] === 'Y',
  volume: flags[2] === 'Y',
})

for (const [plan, matrix] of [
  ['UTP', UTP_MATRIX],
  ['CTA', CTA_MATRIX],
] as const)
  for (const [code, flags] of Object.entries(matrix))
    test(`${plan} ${code} (${US_EQUITY_RULES.get(`${plan}:${code}`)?.name}): high/low ${flags[0]}, last ${flags[1]}, volume ${flags[2]}`, () => {
      assert.deepEqual({ ...effectOf('alpaca', [`${plan}:${code}`]) }, expected(flags))
      assert.deepEqual({ ...effectOf('polygon', [`${plan}:${code}`]) }, expected(flags))
    })

test('the rule table holds exactly the conditions of the two matrices (and the Finnhub numbers mapped to them)', () => {
  const codes = [
    ...Object.keys(UTP_MATRIX).map((c) => `UTP:${c}`),
    ...Object.keys(CTA_MATRIX).map((c) => `CTA:${c}`),
  ].sort()
  const sip = [...US_EQUITY_RULES.keys()].filter((k) => !k.startsWith('finnhub:'))
  assert.deepEqual(sip.sort(), codes)
})

test('several conditions: a field is updated only when every condition allows it', () => {
  // intermarket sweep + odd lot: volume only
  assert.deepEqual(
    { ...effectOf('alpaca', ['UTP:F', 'UTP:I']) },
    { last: false, highLow: false, volume: true },
  )
  // out of sequence + extended hours: volume only; out of sequence + regular: high/low and volume
  assert.deepEqual(
    { ...effectOf('alpaca', ['CTA:Z', 'CTA:T']) },
    { last: false, highLow: false, volume: true },
  )
  assert.deepEqual(
    { ...effectOf('alpaca', ['CTA:@', 'CTA:Z']) },
    { last: false, highLow: true, volume: true },
  )
  // official close with a corrected close: nothing
  assert.deepEqual(
    { ...effectOf('alpaca', ['UTP:M', 'UTP:9']) },
    { last: false, highLow: false, volume: false },
  )
})

test('no conditions, or codes outside the matrices, restrict nothing', () => {
  assert.equal(effectOf('alpaca', undefined), EVERY_FIELD)
  assert.equal(effectOf('alpaca', []), EVERY_FIELD)
  assert.equal(effectOf('finnhub', ['finnhub:1', 'finnhub:27']), EVERY_FIELD)
  assert.equal(effectOf('polygon', ['polygon:6']), EVERY_FIELD)
  // a bare code is not looked up: its plan is unknown
  assert.equal(effectOf('replay', ['I']), EVERY_FIELD)
  assert.deepEqual(
    { ...effectOf('polygon', ['polygon:6', 'UTP:I']) },
    { last: false, highLow: false, volume: true },
  )
})

test('crypto sources count every trade in every field, whatever it carries', () => {
  assert.equal(marketOf('binance'), 'crypto')
  assert.equal(marketOf('simulator'), 'crypto')
  assert.equal(marketOf('alpaca'), 'us-equity')
  assert.equal(marketOf('replay'), 'us-equity')
  assert.equal(effectOf('binance', ['UTP:M']), EVERY_FIELD)
  assert.equal(effectOf('simulator', ['CTA:I']), EVERY_FIELD)
})

test('codes are qualified by their plan; a blank code is the regular sale', () => {
  assert.equal(qualify('I', 'UTP', 'alpaca'), 'UTP:I')
  assert.equal(qualify(' ', 'CTA', 'alpaca'), 'CTA:@')
  assert.equal(qualify('I', undefined, 'alpaca'), 'alpaca:I')
})
