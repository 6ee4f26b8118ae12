// The in-place check of the wire schema (isWireTrade) accepts exactly what the zod schema accepts,
// on random values near a valid trade: each field valid, missing or any other JSON value, extra
// keys, conditions of every length around the limit, and roots that are not objects.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { classify, isWireTrade, wire } from '../../src/processor/validate.ts'

const valid = {
  v: fc.oneof(fc.constant(1), fc.integer(), fc.double()),
  type: fc.constant('trade'),
  symbol: fc.constantFrom('AAPL', 'aapl', ''),
  ts: fc.constantFrom('2026-11-24T15:30:00.123Z', 'yesterday'),
  price: fc.constantFrom('187.25', '-1'),
  size: fc.constantFrom('100', 'x'),
  source: fc.oneof(
    { arbitrary: fc.constantFrom('sim', 'a_b.c:d-e', 'x'.repeat(64)), weight: 4 },
    { arbitrary: fc.constantFrom('', 'bad source!', 'x'.repeat(65)), weight: 1 },
    { arbitrary: fc.string(), weight: 1 },
  ),
  id: fc.oneof(fc.constant('T1'), fc.string()),
  recvTs: fc.constant('2026-11-24T15:30:00.200Z'),
  conditions: fc.oneof(
    fc.array(fc.constantFrom('@', 'F', 'T', 'x'.repeat(16), 'é€', '\ud800'), {
      minLength: 30,
      maxLength: 34,
    }),
    fc.array(
      fc.oneof(
        { arbitrary: fc.constantFrom('@', 'F', 'T', 'x'.repeat(16), 'é€', '\ud800'), weight: 8 },
        { arbitrary: fc.constantFrom('x'.repeat(17), '', 'a\u0000', 'a\u007f', 'a\u001f'), weight: 1 },
        { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
      ),
      { maxLength: 8 },
    ),
  ),
}

const other = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.string({ maxLength: 5 }),
  fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
)

/** A trade whose every field is, at random, valid, missing or another value; sometimes extra keys. */
const nearTrade = fc
  .record(
    Object.fromEntries(
      Object.entries(valid).map(([k, arb]) => [
        k,
        fc.oneof({ arbitrary: arb as fc.Arbitrary<unknown>, weight: 12 }, { arbitrary: other, weight: 1 }),
      ]),
    ),
    { requiredKeys: ['v', 'type', 'symbol', 'ts', 'price', 'size', 'source'] },
  )
  .chain((r) =>
    fc.dictionary(fc.string({ maxLength: 6 }), other, { maxKeys: 2 }).map((extra) => ({ ...extra, ...r })),
  )

const value = fc.oneof(
  { arbitrary: nearTrade, weight: 8 },
  { arbitrary: other, weight: 1 },
  { arbitrary: fc.jsonValue(), weight: 1 },
)

const KEYS = ['v', 'type', 'symbol', 'ts', 'price', 'size', 'source', 'id', 'recvTs', 'conditions'] as const

test('isWireTrade accepts exactly what the zod schema accepts, and the accepted value reads the same', () => {
  let accepted = 0
  fc.assert(
    fc.property(value, (v) => {
      const parsed = wire.safeParse(v)
      assert.equal(isWireTrade(v), parsed.success)
      if (!parsed.success) return
      accepted++
      const o = v as Record<string, unknown>
      for (const k of KEYS) assert.deepEqual(o[k], parsed.data[k], k)
    }),
    { numRuns: 20000 },
  )
  // The generator reaches both sides often: a check that rejected everything would fail above.
  assert.ok(accepted > 2000, `only ${accepted} accepted values`)
})

test('a message through the in-place check becomes the same tick or the same dead letter as through zod', () => {
  // The same message, once as JSON (in-place check) and once with a field zod drops (unknown keys
  // never change the outcome) — and a rejected one keeps zod's exact reason and detail.
  const base = {
    v: 1,
    type: 'trade',
    symbol: 'AAPL',
    ts: '2026-11-24T15:30:00.123456Z',
    price: '187.25',
    size: '100',
    source: 'sim',
    id: 'T1',
    conditions: ['@', 'F'],
  }
  const msg = (o: object) => ({
    topic: 't',
    partition: 0,
    offset: 5n,
    key: 'AAPL',
    value: Buffer.from(JSON.stringify(o)),
    timestamp: 0,
    headers: {},
  })
  const a = classify(msg(base))
  const b = classify(msg({ ...base, extra: { deep: [1, 2] } }))
  assert.ok(a.ok && b.ok)
  assert.deepEqual({ ...a.tick, raw: null }, { ...b.tick, raw: null })
  assert.deepEqual(a.tick.conditions, ['@', 'F'])
  const bad = classify(msg({ ...base, conditions: ['@', 'x'.repeat(17)] }))
  assert.deepEqual(bad.ok ? undefined : [bad.dead.reason, bad.dead.detail], [
    'schema',
    'conditions.1: a condition is 1-16 printable characters',
  ])
})
