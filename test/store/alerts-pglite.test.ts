// The embedded store (PGlite) holds alert rules and stores a batch's firings once, like PostgreSQL.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPglite } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { createRule, listFirings } from '../../src/store/alerts.ts'
import { tradeItem } from '../support/trades.ts'

test('alerts on the embedded PGlite store: a crossing fires once, a repeated batch fires nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-alerts-pglite-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const db = await openPglite(dir)
  t.after(() => db.close())
  await migrate(db)
  const rule = await createRule(db, {
    kind: 'price_cross',
    params: { level: '10' },
    symbols: ['TEST'],
    direction: 'down',
    name: null,
    webhookUrl: 'http://127.0.0.1:9/hook',
  })
  const items = [
    tradeItem(0, { ts: '2026-11-24T15:00:00Z', price: '10.5' }),
    tradeItem(1, { ts: '2026-11-24T15:00:01Z', price: '9.75' }),
  ]
  const store = new TickStore(db)
  const first = await writeBatch(store, 'g', items)
  assert.deepEqual(
    first.firings?.map((f) => [f.ruleId, f.event, f.value]),
    [[rule.id, 'ticks/0/1', '9.75']],
  )
  const again = await writeBatch(store, 'g', items)
  assert.deepEqual(again.firings, [])
  const listed = await listFirings(db, { limit: 10 })
  assert.deepEqual(
    listed.map((f) => [f.ruleId, f.event, f.ts, f.price]),
    [[rule.id, 'ticks/0/1', '2026-11-24T15:00:01.000000Z', '9.75']],
  )
  const [queued] = await db.query<{ n: string }>('select count(*)::text as n from alert_deliveries')
  assert.equal(queued!.n, '1')
})
