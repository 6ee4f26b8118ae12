// Small batches on PostgreSQL are written in a pipelined transaction (every statement sent at
// once, inserts from arrays instead of COPY). The inserts must store exactly what COPY stores, a
// batch must take the path its size gives it, and a pipelined transaction with a failed statement
// must never count as committed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Db } from '../../src/store/db.ts'
import {
  COPY_TICKS,
  INSERT_TICKS,
  PIPELINED_MAX_TICKS,
  TickStore,
  tickColumns,
  ticksToCopy,
} from '../../src/store/ticks.ts'
import { prepareWrite, writeBatch } from '../../src/processor/plan.ts'
import type { BatchItem, Tick } from '../../src/domain/types.ts'
import { migratedPostgres } from '../support/postgres.ts'
import { tradeItem } from '../support/trades.ts'
import { checkBars } from '../support/bars.ts'

// Every character class either path treats apart (COPY escapes, array-literal quoting, UTF-8 of
// two to four bytes, a lone surrogate); NUL cannot be stored by either.
const text = fc
  .array(
    fc.oneof(
      fc.constantFrom('\\', '\t', '\n', '\r', 'N', 'NULL', '"', ',', '{', '}', ' ', 'é', '€', '😀', '\ud800'),
      fc.string({ maxLength: 6 }),
      fc.string({ unit: 'grapheme', maxLength: 3 }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => parts.join('').replaceAll('\u0000', '?'))

const tick = fc.record({
  symbol: fc.constantFrom('AAPL', 'BRK.B', 'BTC-USD'),
  ts: fc.constantFrom(
    '2026-11-24T15:30:00.123456Z',
    '2026-11-24T23:59:59.999999Z',
    '2026-11-24T00:00:00.000001Z',
  ),
  price: fc.constantFrom('187.25', '0.0001', '65000', '999999999999.9999999999'),
  size: fc.constantFrom('100', '0.5', '0.000000000001'),
  source: fc.constantFrom('sim', 'binance', 'a_b.c:d-e'),
  tradeId: fc.option(text),
  partition: fc.nat(1000),
  recvTs: fc.option(fc.constant('2026-11-24T15:30:00.200000Z')),
  conditions: fc.option(fc.array(text, { maxLength: 3 })),
})

const STORED = `select symbol, ts::text, price::text, size::text, source, trade_id, ingest_seq::text,
                       kafka_partition, recv_ts::text, conditions
                from ticks order by ingest_seq`

test('the pipelined insert of ticks stores exactly what COPY stores (random ticks: escapes, quotes, UTF-8, NULLs)', async (t) => {
  const db = await migratedPostgres(t)
  const store = new TickStore(db)
  const day = (ts: string): Tick => ({ ts }) as Tick
  await store.ensurePartitions([day('2026-11-24T12:00:00Z')])
  let runs = 0
  await fc.assert(
    fc.asyncProperty(fc.array(tick, { minLength: 1, maxLength: 40 }), async (records) => {
      runs++
      const ticks = records.map((r, i) => ({
        ...r,
        offset: BigInt(i),
        micros: 0,
        tsMs: 0,
        topic: 't',
        raw: Buffer.alloc(0),
      }))
      await db.exec('truncate ticks')
      await db.pipelined!(async (tx) => {
        await tx.query(INSERT_TICKS, tickColumns(ticks))
        return { commit: true, value: undefined }
      })
      const inserted = await db.query(STORED)
      await db.exec('truncate ticks')
      await db.transaction((tx) => tx.copyIn(COPY_TICKS, ticksToCopy(ticks)))
      const copied = await db.query(STORED)
      assert.equal(inserted.length, ticks.length)
      assert.deepEqual(inserted, copied)
    }),
    { numRuns: 60 },
  )
  assert.equal(runs, 60)
})

function item(offset: number, symbol: string): BatchItem {
  const ts = new Date(Date.parse('2026-11-24T15:30:00Z') + offset * 37).toISOString()
  const price = (100 + (offset % 97) / 4).toFixed(2)
  return tradeItem(offset, { symbol, ts, price, size: '3', id: `i${offset}`, partition: offset % 3 })
}

test(`batches of up to ${PIPELINED_MAX_TICKS} ticks go pipelined, larger ones take COPY; both store every trade once and bars equal their ticks`, async (t) => {
  const db = await migratedPostgres(t)
  let pipelined = 0
  const spy: Db = {
    ...db,
    pipelined: (fn) => {
      pipelined++
      return db.pipelined!(fn)
    },
  }
  const store = new TickStore(spy)
  const items = Array.from({ length: 3000 }, (_, i) => item(i, ['AAA', 'BBB', 'CCC'][i % 3]!))
  const small = items.slice(0, PIPELINED_MAX_TICKS)
  const large = items.slice(PIPELINED_MAX_TICKS)
  const write = (batch: BatchItem[]) => writeBatch(store, 'g', batch, undefined, prepareWrite(batch, 'UTC'))
  const first = await write(small)
  assert.equal(first.prepared, 'held')
  assert.equal(first.stored.length, PIPELINED_MAX_TICKS)
  assert.equal(pipelined, 1)
  const second = await write(large)
  assert.equal(second.prepared, 'held')
  assert.equal(second.stored.length, 2000)
  assert.equal(pipelined, 1) // COPY, not pipelined
  // The small batch again: its offsets are stored, so the pipelined bet loses and leaves nothing.
  const again = await write(small)
  assert.equal(again.prepared, 'lost')
  assert.equal(again.skipped, PIPELINED_MAX_TICKS)
  assert.equal(pipelined, 2)
  const [row] = await db.query<{ n: string; ids: string; next: string }>(
    `select (select count(*) from ticks)::text as n, (select count(*) from trade_ids)::text as ids,
            (select string_agg(next_offset::text, ',' order by partition) from consumer_offsets) as next`,
  )
  assert.deepEqual(row, { n: '3000', ids: '3000', next: '2998,2999,3000' })
  // 3 symbols: 111 one-second bars each (a trade every 111 ms for 111 s), 2 minutes, and 5m, 1h, 1d
  assert.deepEqual(await checkBars(db), { bars: 348, missing: 0, extra: 0 })
})

test('a pipelined transaction with a failed statement is not committed, even when asked to', async (t) => {
  const db = await migratedPostgres(t)
  await db.query(
    "insert into settings (key, value) values ('k', 'before') on conflict (key) do update set value = 'before'",
  )
  await assert.rejects(
    db.pipelined!(async (tx) => {
      const sent = await Promise.allSettled([
        tx.query("update settings set value = 'after' where key = 'k'"),
        tx.query('select 1 / 0'),
        tx.query("update settings set value = 'later' where key = 'k'"),
      ])
      assert.deepEqual(
        sent.map((s) => s.status),
        ['fulfilled', 'rejected', 'rejected'],
      )
      return { commit: true, value: undefined }
    }),
    /the transaction ended in ROLLBACK/,
  )
  const [row] = await db.query<{ value: string }>("select value from settings where key = 'k'")
  assert.equal(row?.value, 'before')
  // The connection is usable afterwards.
  const after = await db.pipelined!(async (tx) => ({
    commit: true,
    value: await tx.query<{ n: number }>('select 2 as n'),
  }))
  assert.deepEqual(after, [{ n: 2 }])
})

test("a batch's statements are prepared once per connection and only executed for each later batch", async (t) => {
  const db = await migratedPostgres(t)
  const store = new TickStore(db)
  const batches = 8
  for (let b = 0; b < batches; b++) {
    const batch = Array.from({ length: 50 }, (_, i) => item(b * 50 + i, ['AAA', 'BBB'][i % 2]!))
    const r = await writeBatch(store, 'g', batch, undefined, prepareWrite(batch, 'UTC'))
    assert.equal(r.prepared, 'held')
  }
  // Sequential batches reuse one pipelined connection; its session lists what it prepared.
  const statements = await db.pipelined!(async (tx) => ({
    commit: true,
    value: await tx.query<{ name: string; statement: string; runs: number }>(
      `select name, statement, (generic_plans + custom_plans)::int as runs from pg_prepared_statements
       where name like 'tickflow\\_%' order by statement`,
    ),
  }))
  const runs = (start: string): number[] =>
    statements.filter((s) => s.statement.trimStart().startsWith(start)).map((s) => s.runs)
  assert.deepEqual(runs('insert into bars'), [batches])
  assert.deepEqual(runs('insert into ticks'), [batches])
  assert.deepEqual(runs('insert into trade_ids'), [batches])
  assert.deepEqual(runs('update consumer_offsets'), [batches])
  assert.deepEqual(runs('select topic, partition, next_offset'), [batches])
  const [count] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
  assert.equal(count?.n, String(batches * 50))
})
