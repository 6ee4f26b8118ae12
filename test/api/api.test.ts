// The REST API and live WebSocket against real PostgreSQL data with exact expected values.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import WebSocket from 'ws'
import { buildApp } from '../../src/api/app.ts'
import { LiveHub } from '../../src/api/live.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore, type BatchItem } from '../../src/store/ticks.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/processor/trade.ts'
import { createTestDatabase } from '../support/postgres.ts'

// Five AAPL trades in two minutes (one late, arriving last), two MSFT trades.
const trades = [
  ['AAPL', '2026-11-24T15:30:00.100000Z', '189.10', '100'],
  ['AAPL', '2026-11-24T15:30:30.000000Z', '189.50', '200'],
  ['MSFT', '2026-11-24T15:30:31.000000Z', '412.00', '10'],
  ['AAPL', '2026-11-24T15:31:05.250000Z', '188.90', '50'],
  ['MSFT', '2026-11-24T15:31:10.000000Z', '413.25', '30'],
  ['AAPL', '2026-11-24T15:29:59.900000Z', '189.00', '300'],
] as const

async function setup(t: import('node:test').TestContext) {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const items: BatchItem[] = trades.map(([symbol, ts, price, size], i) => {
    const value = Buffer.from(
      encodeTrade({ v: 1, type: 'trade', symbol, ts, price, size, source: 'test', id: `t${i}` }),
    )
    const c = classify({
      topic: 'ticks',
      partition: 0,
      offset: BigInt(i),
      key: symbol,
      value,
      timestamp: 0,
      headers: {},
    })
    assert.ok(c.ok)
    return { topic: 'ticks', partition: 0, offset: BigInt(i), tick: c.tick }
  })
  const store = new TickStore(db)
  await store.writeBatch('g', items.slice(0, 5))
  await store.writeBatch('g', items.slice(5))
  const hub = new LiveHub()
  const app = await buildApp({ metrics: createMetrics({ defaultMetrics: false }), db, hub })
  t.after(() => app.close())
  return { app, db, hub }
}

test('bars, trades, symbols and quotes return exact values from PostgreSQL', async (t) => {
  const { app } = await setup(t)
  const bars = await app.inject('/api/v1/bars?symbol=AAPL&interval=1m')
  assert.equal(bars.statusCode, 200)
  assert.deepEqual(bars.json(), {
    data: [
      {
        symbol: 'AAPL',
        interval: '1m',
        bucket: '2026-11-24T15:29:00Z',
        open: '189.00',
        high: '189.00',
        low: '189.00',
        close: '189.00',
        volume: '300',
        vwap: '189.0000000000000000',
        trades: '1',
      },
      // Σ p·s = 189.10·100 + 189.50·200 = 56810.00 over 300 → 189.3666…
      {
        symbol: 'AAPL',
        interval: '1m',
        bucket: '2026-11-24T15:30:00Z',
        open: '189.10',
        high: '189.50',
        low: '189.10',
        close: '189.50',
        volume: '300',
        vwap: '189.3666666666666667',
        trades: '2',
      },
      {
        symbol: 'AAPL',
        interval: '1m',
        bucket: '2026-11-24T15:31:00Z',
        open: '188.90',
        high: '188.90',
        low: '188.90',
        close: '188.90',
        volume: '50',
        vwap: '188.9000000000000000',
        trades: '1',
      },
    ],
    nextCursor: null,
  })
  const daily = (await app.inject('/api/v1/bars?symbol=AAPL&interval=1d')).json<{
    data: Record<string, string>[]
  }>().data
  // The late 15:29:59.9 trade is the day's open; close is the last by event time.
  assert.deepEqual(
    daily.map((b) => [b.open, b.high, b.low, b.close, b.volume, b.trades]),
    [['189.00', '189.50', '188.90', '188.90', '650', '4']],
  )

  const page1 = (await app.inject('/api/v1/trades?symbol=AAPL&limit=3')).json<{
    data: { ts: string; price: string }[]
    nextCursor: string
  }>()
  assert.deepEqual(
    page1.data.map((x) => [x.ts, x.price]),
    [
      ['2026-11-24T15:29:59.900000Z', '189.00'],
      ['2026-11-24T15:30:00.100000Z', '189.10'],
      ['2026-11-24T15:30:30.000000Z', '189.50'],
    ],
  )
  const page2 = (await app.inject(`/api/v1/trades?symbol=AAPL&limit=3&cursor=${page1.nextCursor}`)).json<{
    data: { price: string }[]
    nextCursor: string | null
  }>()
  assert.deepEqual(
    page2.data.map((x) => x.price),
    ['188.90'],
  )
  assert.equal(page2.nextCursor, null)
  const ranged = (
    await app.inject('/api/v1/trades?symbol=AAPL&from=2026-11-24T15:30:00Z&to=2026-11-24T15:31:00Z')
  ).json<{ data: { price: string }[] }>()
  assert.deepEqual(
    ranged.data.map((x) => x.price),
    ['189.10', '189.50'],
  )

  const symbols = (await app.inject('/api/v1/symbols')).json<{
    data: { symbol: string; lastPrice: string; trades: string }[]
  }>()
  assert.deepEqual(
    symbols.data.map((s) => [s.symbol, s.lastPrice, s.trades]),
    [
      ['AAPL', '188.90', '4'],
      ['MSFT', '413.25', '2'],
    ],
  )
  const quotes = (await app.inject('/api/v1/quotes/latest?symbols=MSFT,AAPL,NONE')).json<{
    data: { symbol: string; price: string; size: string; ts: string }[]
  }>()
  assert.deepEqual(quotes.data.map((q) => [q.symbol, q.price, q.size, q.ts]).sort(), [
    ['AAPL', '188.90', '50', '2026-11-24T15:31:05.250000Z'],
    ['MSFT', '413.25', '30', '2026-11-24T15:31:10.000000Z'],
  ])
})

test('bad parameters get 400 naming the parameter; injection-shaped input is just a bad value', async (t) => {
  const { app, db } = await setup(t)
  const cases: [string, string][] = [
    ['/api/v1/bars?interval=1m', 'symbol'],
    ['/api/v1/bars?symbol=AAPL', 'interval'],
    ['/api/v1/bars?symbol=AAPL&interval=2m', 'interval'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&limit=0', 'limit'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&limit=abc', 'limit'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&limit=100000', 'limit'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&from=yesterday', 'from'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&to=2026-13-45T99:00:00Z', 'to'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&colour=red', 'colour'],
    [`/api/v1/bars?symbol=${encodeURIComponent("AAPL' OR '1'='1")}&interval=1m`, 'symbol'],
    [`/api/v1/trades?symbol=${encodeURIComponent('AAPL; DROP TABLE ticks;--')}`, 'symbol'],
    ['/api/v1/trades?symbol=AAPL&cursor=not!base64', 'cursor'],
    [`/api/v1/trades?symbol=AAPL&cursor=${Buffer.from("x' or 1=1--").toString('base64url')}`, 'cursor'],
    [`/api/v1/quotes/latest?symbols=${encodeURIComponent('AAPL,$(rm -rf)')}`, 'symbols'],
    ['/api/v1/quotes/latest', 'symbols'],
  ]
  for (const [url, param] of cases) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 400, url)
    const body = res.json<{ error: string; param: string; message: string }>()
    assert.equal(body.error, 'bad_request', url)
    assert.equal(body.param, param, url)
    assert.match(body.message, new RegExp(`^${param}`), url)
  }
  const [n] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
  assert.equal(n!.n, '6')
  const docs = await app.inject('/docs/json')
  assert.equal(docs.statusCode, 200)
  assert.ok(Object.keys(docs.json<{ paths: object }>().paths).includes('/api/v1/bars'))
})

test('the WebSocket streams live trades and bars for the chosen symbols, and drops a client that stops reading', async (t) => {
  const { app, hub } = await setup(t)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `${address.replace('http', 'ws')}/api/v1/stream?symbols=AAPL`
  const ws = new WebSocket(url)
  t.after(() => ws.terminate())
  const got: { type: string; data: { symbol: string; price?: string } }[] = []
  ws.on('message', (m: Buffer) => got.push(JSON.parse(m.toString()) as (typeof got)[number]))
  await once(ws, 'open')
  while (got.length === 0) await new Promise((r) => setTimeout(r, 10))
  assert.deepEqual(got[0], { type: 'hello', data: { symbols: ['AAPL'] } })
  hub.publish([
    {
      type: 'trade',
      data: { symbol: 'MSFT', ts: '2026-11-24T15:32:00.000000Z', price: '414.00', size: '5', source: 'test' },
    },
    {
      type: 'trade',
      data: { symbol: 'AAPL', ts: '2026-11-24T15:32:00.000000Z', price: '190.00', size: '5', source: 'test' },
    },
  ])
  while (got.length < 2) await new Promise((r) => setTimeout(r, 10))
  assert.deepEqual(got[1], {
    type: 'trade',
    data: { symbol: 'AAPL', ts: '2026-11-24T15:32:00.000000Z', price: '190.00', size: '5', source: 'test' },
  })

  // A client that stops reading: its socket is paused, the server's send buffer grows past 1 MiB,
  // and the server closes it with 4000 instead of buffering without bound.
  const slow = new WebSocket(url)
  t.after(() => slow.terminate())
  await once(slow, 'open')
  const closed = once(slow, 'close')
  ;(slow as unknown as { _socket: import('node:net').Socket })._socket.pause()
  const big = 'x'.repeat(16_384)
  for (let i = 0; i < 2000 && hub.size > 1; i++) {
    hub.publish([
      {
        type: 'trade',
        data: { symbol: 'AAPL', ts: '2026-11-24T15:33:00.000000Z', price: '1.00', size: '1', source: big },
      },
    ])
    await new Promise((r) => setImmediate(r))
  }
  assert.equal(hub.size, 1, 'the slow client was not dropped')
  ;(slow as unknown as { _socket: import('node:net').Socket })._socket.resume()
  const [code] = (await closed) as [number]
  assert.equal(code, 4000)
  assert.equal(ws.readyState, WebSocket.OPEN)
})

test('a bad stream parameter is refused before the upgrade', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject('/api/v1/stream?symbols=bad%20symbol')
  assert.equal(res.statusCode, 400)
  assert.equal(res.json<{ param: string }>().param, 'symbols')
})
