// The COPY rows written as bytes equal the plain definition of PostgreSQL's text format (each field
// escaped, the row joined with tabs, UTF-8) on random ticks, and PostgreSQL reads them back as the
// same values, field for field.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CopyText } from '../../src/store/copy-text.ts'
import { claimCopy, COPY_TICKS, TickStore, ticksToCopy } from '../../src/store/ticks.ts'
import { migratedPostgres } from '../support/postgres.ts'
import type { Tick } from '../../src/domain/types.ts'

/** The definition: backslash, tab, newline and carriage return escaped; null is \N. */
const escape = (v: string | null): string =>
  v === null
    ? '\\N'
    : v.replaceAll('\\', '\\\\').replaceAll('\t', '\\t').replaceAll('\n', '\\n').replaceAll('\r', '\\r')

const row = (fields: (string | null)[]): string => `${fields.map(escape).join('\t')}\n`

const literal = (items: string[] | null | undefined): string | null =>
  items && items.length > 0 ? `{${items.map((c) => `"${c.replace(/[\\"]/g, '\\$&')}"`).join(',')}}` : null

function reference(ticks: Tick[]): Buffer {
  return Buffer.from(
    ticks
      .map((t) =>
        row([
          t.symbol,
          t.ts,
          t.price,
          t.size,
          t.source,
          t.tradeId,
          String(t.offset),
          String(t.partition),
          t.recvTs,
          literal(t.conditions),
        ]),
      )
      .join(''),
    'utf8',
  )
}

// Text with every character class the writer treats apart: the four escaped ones, other ASCII,
// two- three- and four-byte UTF-8 (a surrogate pair), a lone surrogate (U+FFFD in UTF-8 either
// way), and a backslash right before a multi-byte character.
const text = fc
  .array(
    fc.oneof(
      fc.constantFrom('\\', '\t', '\n', '\r', 'N', '"', ',', '{', 'é', '€', '😀', '\\é', '\ud800'),
      fc.string({ maxLength: 4 }),
      fc.string({ unit: 'grapheme', maxLength: 3 }),
      fc.string({ minLength: 100, maxLength: 400 }), // longer than a buffer that starts small
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''))

const tick = fc.record({
  symbol: fc.constantFrom('AAPL', 'BRK.B', 'BTC-USD'),
  ts: fc.constantFrom('2026-11-24T15:30:00.123456Z', '2026-11-25T00:00:00.000000Z'),
  price: fc.constantFrom('187.25', '0.0001', '65000'),
  size: fc.constantFrom('100', '0.5'),
  source: fc.constantFrom('sim', 'binance', 'a_b.c:d-e'),
  tradeId: fc.option(text),
  offset: fc.bigInt({ min: 0n, max: 2n ** 62n }),
  partition: fc.nat(1000),
  recvTs: fc.option(fc.constant('2026-11-24T15:30:00.200000Z')),
  conditions: fc.option(fc.array(text, { maxLength: 3 })),
})

const asTick = (r: object): Tick => ({ ...r, micros: 0, tsMs: 0, topic: 't', raw: Buffer.alloc(0) }) as Tick

test('tick rows as bytes equal the text-format definition on random ticks (escapes, UTF-8, NULLs, growth)', () => {
  fc.assert(
    fc.property(fc.array(tick, { maxLength: 40 }), (records) => {
      const ticks = records.map(asTick)
      assert.deepEqual(ticksToCopy(ticks), reference(ticks))
    }),
    { numRuns: 2000 },
  )
})

test('claim rows and fields written into a buffer that starts too small', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(text, text), { maxLength: 30 }), fc.nat(100), (pairs, start) => {
      const out = new CopyText(start)
      for (const [a, b] of pairs) out.field(a).field(b, true)
      const expected = Buffer.from(pairs.map(([a, b]) => row([a, b])).join(''), 'utf8')
      assert.deepEqual(out.bytes(), expected)
      assert.deepEqual(
        claimCopy(
          pairs.map((p) => p[0]),
          pairs.map((p) => p[1]),
        ),
        expected,
      )
    }),
    { numRuns: 2000 },
  )
})

test('PostgreSQL reads the rows back as the same values', async (t) => {
  const db = await migratedPostgres(t)
  const store = new TickStore(db)
  const ids = ['plain', 'a\tb', 'line\nbreak', 'cr\rhere', 'back\\slash', '\\N', 'é€😀', '\\\t\\n']
  const ticks = ids.map((id, i): Tick => ({
    symbol: 'AAPL',
    ts: `2026-11-24T15:30:0${i}.000000Z`,
    micros: Date.parse(`2026-11-24T15:30:0${i}Z`) * 1000,
    tsMs: Date.parse(`2026-11-24T15:30:0${i}Z`),
    price: '187.25',
    size: '100',
    source: 'sim',
    tradeId: id,
    recvTs: i % 2 === 0 ? null : '2026-11-24T15:30:09.000000Z',
    conditions: i % 3 === 0 ? [id, '@'] : null,
    topic: 't',
    partition: 0,
    offset: BigInt(i),
    raw: Buffer.alloc(0),
  }))
  await store.ensurePartitions(ticks)
  await db.transaction((tx) => tx.copyIn(COPY_TICKS, ticksToCopy(ticks)))
  const rows = await db.query<{ trade_id: string; recv: boolean; conditions: string[] | null }>(
    'select trade_id, recv_ts is not null as recv, conditions from ticks order by ingest_seq',
  )
  assert.deepEqual(
    rows.map((r) => [r.trade_id, r.recv, r.conditions]),
    ticks.map((tk) => [tk.tradeId, tk.recvTs !== null, tk.conditions ?? null]),
  )
})
