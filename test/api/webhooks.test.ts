// Alert webhooks from the PostgreSQL outbox: every firing of a rule with a webhook is posted at
// least once with `Idempotency-Key: <firing id>`; a failed or timed-out attempt is retried with
// capped exponential backoff; a deliverer stopped mid-request (a restart) leaves the delivery to
// the next one; on the embedded store, whose outbox only its own process writes, the deliverer
// sleeps until woken or a retry falls due. The receiver is a local HTTP server on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPostgres, openPglite, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { createRule } from '../../src/store/alerts.ts'
import { backoffMs, startWebhookDelivery } from '../../src/api/webhooks.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tradeItem } from '../support/trades.ts'
import { waitFor } from '../support/wait.ts'

/** Deliveries not yet marked delivered. */
async function undelivered(db: Db): Promise<number> {
  const [row] = await db.query<{ n: string }>(
    'select count(*)::text as n from alert_deliveries where delivered_at is null',
  )
  return Number(row!.n)
}

test('the backoff doubles from its base and stops at its cap', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 40].map((n) => backoffMs(n, 500, 5000)),
    [500, 1000, 2000, 4000, 5000, 5000, 5000],
  )
})

test('each firing is delivered at least once with its id as the Idempotency-Key, through failures, a timeout and a restart', async (t) => {
  const attempts = new Map<string, number>()
  const delivered: string[] = []
  const held: ServerResponse[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'])
      const n = (attempts.get(key) ?? 0) + 1
      attempts.set(key, n)
      const payload = JSON.parse(body) as {
        id: string
        symbol: string
        price: string
        rule: { name: string }
      }
      assert.equal(payload.id, key)
      assert.equal(req.headers['content-type'], 'application/json')
      // the first attempt of every firing fails; the second of the first firing never answers
      if (n === 1) return void res.writeHead(503).end()
      if (n === 2 && held.length === 0) return void held.push(res)
      delivered.push(key)
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const r of held) r.destroy()
    server.close()
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`

  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const rule = await createRule(db, {
    kind: 'price_cross',
    params: { level: '10' },
    symbols: ['TEST'],
    direction: 'up',
    name: 'ten',
    webhookUrl: url,
  })
  // five crossings up through 10
  const prices = ['9', '11', '9', '12', '8', '10', '9.5', '10.5', '7', '13']
  const items = prices.map((price, i) =>
    tradeItem(i, { ts: `2026-11-24T15:00:${String(i).padStart(2, '0')}Z`, price }),
  )
  const result = await writeBatch(new TickStore(db), 'g', items)
  const ids = result.firings!.map((f) => f.id)
  assert.equal(ids.length, 5)
  assert.equal(result.firings![0]!.ruleId, rule.id)

  const options = { timeoutMs: 3000, maxBackoffMs: 200, baseMs: 50, pollMs: 20 }
  let { stop } = startWebhookDelivery(db, options)
  // a restart while the held request is under way
  for (const deadline = Date.now() + 10_000; held.length === 0;) {
    assert.ok(Date.now() < deadline, 'the held attempt never came')
    await sleep(20)
  }
  await stop()
  ;({ stop } = startWebhookDelivery(db, options))
  t.after(() => stop())
  await waitFor(async () => (await undelivered(db)) === 0, 20_000, 'every delivery marked delivered', 50)
  await stop()
  // at least once: an answer the deliverer did not wait for (a slow machine) is posted again
  assert.deepEqual(new Set(delivered), new Set(ids))
  assert.ok(delivered.length >= 5)
  const rows = await db.query<{ firing_id: string; attempts: number; last_error: string | null }>(
    'select firing_id, attempts, last_error from alert_deliveries order by firing_id',
  )
  // at least 2 attempts each (503, then 200); the held one at least 3 (503, no answer, 200)
  assert.equal(rows.length, 5)
  assert.ok(rows.every((r) => r.attempts >= 2))
  assert.ok(rows.some((r) => r.attempts >= 3))
  assert.ok([...attempts.values()].every((n) => n >= 2))
  assert.ok(rows.every((r) => r.last_error === null))
})

test('on the embedded store the deliverer sleeps until woken or a retry falls due, instead of polling the outbox', async (t) => {
  const attempts = new Map<string, number>()
  const delivered: string[] = []
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'])
      const n = (attempts.get(key) ?? 0) + 1
      attempts.set(key, n)
      // the first attempt of each fails: the retry comes when it falls due, without a wake
      if (n === 1) return void res.writeHead(503).end()
      delivered.push(key)
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-webhooks-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const db = await openPglite(dir)
  t.after(() => db.close())
  await migrate(db)
  await createRule(db, {
    kind: 'price_cross',
    params: { level: '10' },
    symbols: ['TEST'],
    direction: 'up',
    name: 'ten',
    webhookUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
  })
  // The outbox statements the deliverer sends, counted.
  let claims = 0
  const counted = new Proxy(db, {
    get(target, prop) {
      if (prop === 'query')
        return (sql: string, params?: unknown[]) => {
          if (sql.includes('skip locked')) claims++
          return target.query(sql, params)
        }
      const v: unknown = Reflect.get(target, prop)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
  // pollMs 20: polling would claim about 50 times a second
  const delivery = startWebhookDelivery(counted, {
    timeoutMs: 3000,
    maxBackoffMs: 200,
    baseMs: 100,
    pollMs: 20,
    soleWriter: true,
  })
  t.after(() => delivery.stop())
  await sleep(1000)
  assert.ok(claims <= 2, `${claims} claims in an idle second`)

  const prices = ['9', '11', '9', '12', '8', '10.5']
  const result = await writeBatch(
    new TickStore(db),
    'g',
    prices.map((price, i) => tradeItem(i, { ts: `2026-11-24T15:00:${String(i).padStart(2, '0')}Z`, price })),
  )
  const ids = result.firings!.map((f) => f.id)
  assert.equal(ids.length, 3)
  delivery.wake()
  for (const deadline = Date.now() + 20_000; delivered.length < 3; await sleep(20))
    assert.ok(Date.now() < deadline, `${delivered.length} of 3 delivered`)
  assert.deepEqual(new Set(delivered), new Set(ids))
  assert.deepEqual([...attempts.values()], [2, 2, 2])
  // the webhook saw the third delivery before the deliverer read its answer and marked it
  await waitFor(async () => (await undelivered(db)) === 0, 20_000, 'every delivery marked delivered', 20)
  // idle again: the outbox is not read until the next wake
  await sleep(300)
  const before = claims
  await sleep(1000)
  assert.ok(claims - before <= 1, `${claims - before} claims in an idle second`)
})
