// The live tail of `tickflow serve`: ticks and bars committed by a processor reach the hub's
// subscribers through the poller, each once, with the bars looked up from the new ticks.
import { writeBatch } from '../../src/processor/plan.ts'
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { LiveHub } from '../../src/api/live.ts'
import { startPoller } from '../../src/api/poller.ts'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tradeItem } from '../support/trades.ts'

/** A migrated database and a hub it is polled into every 100 ms. */
async function polled(t: TestContext): Promise<{ db: Db; hub: LiveHub }> {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const hub = new LiveHub()
  t.after(startPoller(db, hub, 100))
  return { db, hub }
}

test('the poller publishes newly stored trades and the bars they changed, each once', async (t) => {
  const { db, hub } = await polled(t)
  const got: {
    type: string
    data: { symbol: string; interval?: string; trades?: string; price?: string }
  }[] = []
  hub.subscribe(null, (events) => {
    for (const e of events) got.push(JSON.parse(e.bytes.toString()) as (typeof got)[number])
  })
  // Event times are history on purpose: the poller follows when rows were stored.
  await writeBatch(new TickStore(db), 'g', [
    tradeItem(0, { symbol: 'LIVE', ts: '2024-03-01T15:30:00.000000Z', price: '10', id: 'l0' }),
    tradeItem(1, { symbol: 'LIVE', ts: '2024-03-01T15:30:02.000000Z', price: '11', id: 'l1' }),
  ])
  const deadline = Date.now() + 30_000
  while (got.length < 2 + 6) {
    assert.ok(Date.now() < deadline, `only ${got.length} events: ${JSON.stringify(got)}`)
    await sleep(50)
  }
  const trades = got.filter((e) => e.type === 'trade').map((e) => e.data.price)
  assert.deepEqual(trades, ['10', '11'])
  const bars = got
    .filter((e) => e.type === 'bar')
    .map((e) => `${e.data.interval}:${e.data.trades}`)
    .sort()
  assert.deepEqual(bars, ['1d:2', '1h:2', '1m:2', '1s:1', '1s:1', '5m:2'])
})

test('a first subscriber is sent what is stored after it came, not everything since the server started', async (t) => {
  const { db, hub } = await polled(t)
  const store = new TickStore(db)
  await writeBatch(store, 'g', [
    tradeItem(0, { symbol: 'BEFORE', ts: '2024-03-01T15:30:00.000000Z', price: '10', id: 'b0' }),
  ])
  // Past the poller's overlap (2 s): what was stored before the client is read from the REST API.
  await sleep(3000)
  const symbols: string[] = []
  hub.subscribe(null, (events) => {
    for (const e of events) symbols.push(e.symbol)
  })
  await writeBatch(store, 'g', [
    tradeItem(1, { symbol: 'AFTER', ts: '2024-03-01T15:30:01.000000Z', price: '11', id: 'a0' }),
  ])
  for (const deadline = Date.now() + 30_000; symbols.length < 1 + 5; await sleep(50))
    assert.ok(Date.now() < deadline, `only ${symbols.length} events`)
  await sleep(500) // five more polls: nothing else arrives
  assert.deepEqual([...new Set(symbols)], ['AFTER'])
  assert.equal(symbols.length, 1 + 5)
})
