// The daily bars' time zone belongs to the database: `tickflow migrate` with a different one, once
// daily bars exist, stops with one line naming the setting instead of ignoring it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { runCli } from '../support/cli.ts'

test('migrate refuses a bars time zone that does not match the database', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const value = encodeTrade({
    v: 1,
    type: 'trade',
    symbol: 'TZ',
    ts: '2026-11-24T15:30:00Z',
    price: '1',
    size: '1',
    source: 't',
  })
  const c = classify({
    topic: 'ticks',
    partition: 0,
    offset: 0n,
    key: 'TZ',
    value: Buffer.from(value),
    timestamp: 0,
    headers: {},
  })
  assert.ok(c.ok)
  await writeBatch(new TickStore(db), 'g', [{ topic: 'ticks', partition: 0, offset: 0n, tick: c.tick }])

  const env = { DATABASE_URL: database.url }
  const same = await runCli(['migrate'], { ...env, TICKFLOW_BARS_TIMEZONE: 'UTC' })
  assert.equal(same.code, 0, same.output)
  const other = await runCli(['migrate'], { ...env, TICKFLOW_BARS_TIMEZONE: 'America/New_York' })
  assert.notEqual(other.code, 0, other.output)
  const lines = other.output.trim().split('\n')
  assert.equal(lines.length, 1, other.output)
  assert.match(lines[0]!, /TICKFLOW_BARS_TIMEZONE.*America\/New_York.*UTC/)
  const [tz] = await db.query<{ value: string }>("select value from settings where key = 'bars_timezone'")
  assert.equal(tz!.value, 'UTC')
})
