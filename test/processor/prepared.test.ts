// Plans prepared before their transaction, on PostgreSQL and on PGlite: stored as made when the
// bet holds (no offset, no trade id stored before, no alert rule), and built again the usual way
// when it lost, with nothing of the prepared writes left behind (bars equal the GROUP BY).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Db } from '../../src/store/db.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { prepareWrite, writeBatch } from '../../src/processor/plan.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { createRule } from '../../src/store/alerts.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { openTestStore } from '../support/stores.ts'
import { checkBars } from '../support/bars.ts'

function item(
  offset: number,
  second: number,
  id: string | undefined,
  price: string,
  symbol = 'AAA',
): BatchItem {
  const ts = `2026-11-24T15:30:${String(second).padStart(2, '0')}.25Z`
  const value = encodeTrade({ v: 1, type: 'trade', symbol, ts, price, size: '2', source: 't', id })
  const c = classify({
    topic: 'ticks',
    partition: 0,
    offset: BigInt(offset),
    key: symbol,
    value: Buffer.from(value),
    timestamp: 0,
    headers: {},
  })
  assert.ok(c.ok)
  return { topic: 'ticks', partition: 0, offset: BigInt(offset), tick: c.tick }
}

async function counts(db: Db) {
  const [row] = await db.query<{ ticks: string; ids: string; dead: string; next: string; firings: string }>(
    `select (select count(*) from ticks)::text as ticks, (select count(*) from trade_ids)::text as ids,
            (select count(*) from dead_letters)::text as dead, (select count(*) from alert_firings)::text as firings,
            (select next_offset::text from consumer_offsets where group_id = 'g') as next`,
  )
  return row
}

const write = (store: TickStore, items: BatchItem[]) =>
  writeBatch(store, 'g', items, undefined, prepareWrite(items, 'UTC'))

for (const kind of ['postgres', 'pglite'] as const) {
  test(`prepared plans (${kind}): stored as made when nothing was stored before, built again when offsets or ids were`, async (t) => {
    const db = await openTestStore(kind, t)
    const store = new TickStore(db)
    await store.timezone()
    const first = [item(0, 1, 'a', '10.5'), item(1, 1, 'b', '11'), item(2, 2, undefined, '9.75', 'BBB')]
    const held = await write(store, first)
    assert.equal(held.prepared, 'held')
    assert.equal(held.stored.length, 3)
    assert.equal(held.bars.length, 10) // 2 symbols × 5 intervals
    assert.deepEqual(await counts(db), { ticks: '3', ids: '2', dead: '0', firings: '0', next: '3' })

    // The same batch again (a re-delivery): every offset is stored, so nothing is written twice.
    const redelivered = await write(store, first)
    assert.equal(redelivered.prepared, 'lost')
    assert.equal(redelivered.skipped, 3)
    assert.equal(redelivered.stored.length, 0)
    assert.deepEqual(await counts(db), { ticks: '3', ids: '2', dead: '0', firings: '0', next: '3' })

    // New offsets, one id stored before: that trade is a duplicate, the other two are stored.
    const mixed = await write(store, [
      item(3, 3, 'a', '12'),
      item(4, 3, 'c', '12.5'),
      item(5, 4, undefined, '8'),
    ])
    assert.equal(mixed.prepared, 'lost')
    assert.deepEqual(
      mixed.stored.map((s) => s.price),
      ['12.5', '8'],
    )
    assert.deepEqual(
      mixed.deadLettered.map((d) => [d.reason, String(d.offset)]),
      [['duplicate_trade_id', '3']],
    )
    assert.deepEqual(await counts(db), { ticks: '5', ids: '3', dead: '1', firings: '0', next: '6' })
    assert.deepEqual(await checkBars(db), { bars: 12, missing: 0, extra: 0 })
  })

  test(`prepared plans (${kind}): with an alert rule in force the plan is built again and the rule fires once`, async (t) => {
    const db = await openTestStore(kind, t)
    const store = new TickStore(db)
    await createRule(db, {
      name: 'cross 11',
      kind: 'price_cross',
      symbols: ['AAA'],
      direction: 'up',
      params: { level: '11' },
      webhookUrl: null,
    })
    const result = await write(store, [
      item(0, 1, 'a', '10.5'),
      item(1, 2, 'b', '11.5'),
      item(2, 3, 'c', '12'),
    ])
    assert.equal(result.prepared, 'lost')
    assert.equal(result.stored.length, 3)
    assert.equal(result.firings?.length, 1)
    assert.deepEqual(await counts(db), { ticks: '3', ids: '3', dead: '0', firings: '1', next: '3' })
    assert.deepEqual(await checkBars(db), { bars: 7, missing: 0, extra: 0 })
  })
}

test('a batch that repeats a trade id itself is not prepared: its plan needs the store', () => {
  assert.equal(prepareWrite([item(0, 1, 'a', '10'), item(1, 2, 'a', '11')], 'UTC'), undefined)
  const prepared = prepareWrite([item(0, 1, 'a', '10'), item(1, 2, 'b', '11'), item(1, 2, 'b', '11')], 'UTC')
  // The same offset twice is one message: it is not its own duplicate.
  assert.equal(prepared?.plan.ticks.length, 2)
  assert.equal(prepared?.plan.skipped, 1)
  assert.equal(prepared?.claimRows.toString(), 't\ta\nt\tb\n')
  assert.deepEqual(
    prepared?.plan.offsets.map((o) => String(o.next)),
    ['2'],
  )
})
