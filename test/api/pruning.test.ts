// Every trades query the API runs carries a time range PostgreSQL can prune partitions with: a
// request without from/to for the latest trades plans a scan of the partition(s) holding them, not
// of every partition of a three-year history.
import { writeBatch } from '../../src/processor/plan.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { dataRange, tradesSql } from '../../src/api/queries.ts'
import { createTestDatabase } from '../support/postgres.ts'

interface Plan {
  'Node Type': string
  'Relation Name'?: string
  Plans?: Plan[]
}

function relations(p: Plan): string[] {
  return [...(p['Relation Name'] ? [p['Relation Name']] : []), ...(p.Plans ?? []).flatMap(relations)]
}

test('a request for the latest trades without from/to scans only the partitions that hold them', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  // One trade every 30 days for three years, each written as the processor writes it.
  const items: BatchItem[] = Array.from({ length: 37 }, (_, i) => {
    const ts = new Date(Date.UTC(2021, 0, 1) + i * 30 * 86_400_000).toISOString().replace('Z', '000Z')
    const value = Buffer.from(
      encodeTrade({
        v: 1,
        type: 'trade',
        symbol: 'AAPL',
        ts,
        price: '100',
        size: '1',
        source: 'test',
        id: `p${i}`,
      }),
    )
    const c = classify({
      topic: 'ticks',
      partition: 0,
      offset: BigInt(i),
      key: 'AAPL',
      value,
      timestamp: 0,
      headers: {},
    })
    assert.ok(c.ok)
    return { topic: 'ticks', partition: 0, offset: BigInt(i), tick: c.tick }
  })
  await writeBatch(new TickStore(db), 'g', items)
  const [{ n } = { n: 0 }] = await db.query<{ n: number }>(
    "select count(*)::int as n from pg_inherits where inhparent = 'ticks'::regclass",
  )
  assert.ok(n > 1, `${n} partitions`)

  const plan = async (order: 'asc' | 'desc', limit: number): Promise<string[]> => {
    const range = await dataRange(db, { symbol: 'AAPL', order, limit })
    assert.ok(range)
    const { text, values } = tradesSql({ symbol: 'AAPL', ...range, order, limit })
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: Plan }] }>(`explain (format json) ${text}`, values)
    return relations(row!['QUERY PLAN'][0].Plan)
  }
  const latest = await plan('desc', 1)
  const oldest = await plan('asc', 1)
  assert.ok(
    latest.length >= 1 && latest.length < n,
    `latest: ${latest.length} of ${n} partitions: ${latest.join(' ')}`,
  )
  assert.ok(
    oldest.length >= 1 && oldest.length < n,
    `oldest: ${oldest.length} of ${n} partitions: ${oldest.join(' ')}`,
  )
  assert.notDeepEqual(latest, oldest)
})
