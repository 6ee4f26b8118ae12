// parseDec reads a decimal as PostgreSQL prints numeric into an exact scaled integer; checked
// against the plain definition (sign, integer digits, fraction digits as the scale) on random
// texts, and refusing anything else.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decText, parseDec } from '../../src/domain/decimal.ts'

function reference(text: string): { v: bigint; s: number } | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text)
  if (!m) return undefined
  const frac = m[3] ?? ''
  const v = BigInt(m[2]! + frac)
  return { v: m[1] ? -v : v, s: frac.length }
}

const digits = (min: number, max: number) =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''))

const decimal = fc
  .tuple(fc.boolean(), digits(1, 30), fc.option(digits(1, 25)))
  .map(([neg, int, frac]) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}`)

test('decimals parse to the definition, and print back as written when the text is canonical', () => {
  fc.assert(
    fc.property(decimal, (text) => {
      const got = parseDec(text)
      assert.deepEqual(got, reference(text))
      if (!/^-?0\d/.test(text) && !/^-0(\.0+)?$/.test(text)) assert.equal(decText(got), text)
    }),
    { numRuns: 5000 },
  )
})

test('anything else is refused, as the definition refuses it', () => {
  const others = [
    '',
    '-',
    '.5',
    '5.',
    '1e5',
    '0x1F',
    ' 12',
    '12 ',
    '+1',
    '1.2.3',
    '١٢',
    '--1',
    '1_000',
    'NaN',
  ]
  for (const text of others) {
    assert.equal(reference(text), undefined, text)
    assert.throws(() => parseDec(text), /not a decimal/, text)
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), (text) => {
      const want = reference(text)
      if (want === undefined) assert.throws(() => parseDec(text), /not a decimal/)
      else assert.deepEqual(parseDec(text), want)
    }),
    { numRuns: 5000 },
  )
})
