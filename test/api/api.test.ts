// The REST API and live WebSocket against real PostgreSQL data with exact expected values.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import WebSocket from 'ws'
import { buildApp } from '../../src/api/app.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { setup } from '../support/api.ts'
import { loadConfig } from '../../src/config/load.ts'

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
    prevCursor: null,
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

type Page<R> = { data: R[]; nextCursor: string | null; prevCursor: string | null }

test('order=desc with limit gives the latest N; cursors page forward and back in either order', async (t) => {
  const { app } = await setup(t)
  const get = async <R>(url: string): Promise<Page<R>> => {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
    return res.json<Page<R>>()
  }
  const latest = await get<{ bucket: string }>('/api/v1/bars?symbol=AAPL&interval=1m&order=desc&limit=2')
  assert.deepEqual(
    latest.data.map((b) => b.bucket),
    ['2026-11-24T15:31:00Z', '2026-11-24T15:30:00Z'],
  )
  const older = await get<{ bucket: string }>(
    `/api/v1/bars?symbol=AAPL&interval=1m&order=desc&limit=2&cursor=${latest.nextCursor}`,
  )
  assert.deepEqual(
    older.data.map((b) => b.bucket),
    ['2026-11-24T15:29:00Z'],
  )
  assert.equal(older.nextCursor, null)
  const back = await get<{ bucket: string }>(
    `/api/v1/bars?symbol=AAPL&interval=1m&order=desc&limit=2&cursor=${older.prevCursor}`,
  )
  assert.deepEqual(back.data, latest.data)
  assert.equal(back.prevCursor, null)

  // Trades: four AAPL trades, pages of two, newest first, then back again.
  const t1 = await get<{ price: string }>('/api/v1/trades?symbol=AAPL&order=desc&limit=2')
  assert.deepEqual(
    t1.data.map((x) => x.price),
    ['188.90', '189.50'],
  )
  assert.equal(t1.prevCursor, null)
  const t2 = await get<{ price: string }>(
    `/api/v1/trades?symbol=AAPL&order=desc&limit=2&cursor=${t1.nextCursor}`,
  )
  assert.deepEqual(
    t2.data.map((x) => x.price),
    ['189.10', '189.00'],
  )
  const t1again = await get<{ price: string }>(
    `/api/v1/trades?symbol=AAPL&order=desc&limit=2&cursor=${t2.prevCursor}`,
  )
  assert.deepEqual(t1again.data, t1.data)
  // Ascending, the last page's prevCursor leads back to the first page.
  const a1 = await get<{ price: string }>('/api/v1/trades?symbol=AAPL&limit=3')
  const a2 = await get<{ price: string }>(`/api/v1/trades?symbol=AAPL&limit=3&cursor=${a1.nextCursor}`)
  assert.deepEqual(
    a2.data.map((x) => x.price),
    ['188.90'],
  )
  const a1again = await get<{ price: string }>(`/api/v1/trades?symbol=AAPL&limit=3&cursor=${a2.prevCursor}`)
  assert.deepEqual(a1again.data, a1.data)
  // The daily series: limit=1 with desc is the latest day, not the first.
  const day = await get<{ bucket: string }>('/api/v1/bars?symbol=AAPL&interval=1d&order=desc&limit=1')
  assert.deepEqual(
    day.data.map((b) => b.bucket),
    ['2026-11-24T00:00:00Z'],
  )
})

test('symbols match in any case; from/to take epoch milliseconds; messages are sentences, not patterns', async (t) => {
  const { app } = await setup(t)
  const upper = await app.inject('/api/v1/trades?symbol=AAPL')
  const lower = await app.inject('/api/v1/trades?symbol=aapl')
  assert.equal(lower.statusCode, 200)
  assert.deepEqual(lower.json(), upper.json())
  assert.equal(lower.json<Page<unknown>>().data.length, 4)
  const quotes = (await app.inject('/api/v1/quotes/latest?symbols=msft,Aapl')).json<{
    data: { symbol: string }[]
  }>()
  assert.deepEqual(quotes.data.map((q) => q.symbol).sort(), ['AAPL', 'MSFT'])

  const iso = await app.inject('/api/v1/trades?symbol=AAPL&from=2026-11-24T15:30:00Z&to=2026-11-24T15:31:00Z')
  const from = Date.parse('2026-11-24T15:30:00Z')
  const epoch = await app.inject(`/api/v1/trades?symbol=AAPL&from=${from}&to=${from + 60_000}`)
  assert.equal(epoch.statusCode, 200)
  assert.deepEqual(epoch.json(), iso.json())
  assert.deepEqual(
    epoch.json<Page<{ price: string }>>().data.map((x) => x.price),
    ['189.10', '189.50'],
  )
  // An offset is honoured: 16:30+01:00 is 15:30Z.
  const offset = await app.inject(
    `/api/v1/trades?symbol=AAPL&from=${encodeURIComponent('2026-11-24T16:30:00+01:00')}&to=${encodeURIComponent('2026-11-24T16:31:00+01:00')}`,
  )
  assert.deepEqual(offset.json(), iso.json())

  for (const url of [
    '/api/v1/trades?symbol=AA%20PL',
    '/api/v1/bars?symbol=AAPL&interval=1m&from=yesterday',
    '/api/v1/bars?symbol=AAPL&interval=1m&cursor=***',
    '/api/v1/quotes/latest?symbols=AAPL,,',
  ]) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 400, url)
    const { message } = res.json<{ message: string }>()
    assert.doesNotMatch(message, /[\\^$[\]{}]/, `${url}: ${message}`)
    assert.ok(message.split(' ').length >= 5, `${url}: ${message}`)
  }
})

test('HTTP_CORS_ORIGINS allows the listed browser origins only; none by default', async (t) => {
  assert.deepEqual(loadConfig({ env: {}, dotenvPath: '/nonexistent' }).httpCorsOrigins, [])
  assert.deepEqual(
    loadConfig({
      env: { HTTP_CORS_ORIGINS: 'https://a.example, http://127.0.0.1:5173' },
      dotenvPath: '/nonexistent',
    }).httpCorsOrigins,
    ['https://a.example', 'http://127.0.0.1:5173'],
  )
  assert.throws(
    () => loadConfig({ env: { HTTP_CORS_ORIGINS: 'not an origin' }, dotenvPath: '/nonexistent' }),
    /HTTP_CORS_ORIGINS/,
  )
  const { app, db } = await setup(t)
  const origin = { origin: 'https://a.example' }
  const closed = await app.inject({ url: '/api/v1/symbols', headers: origin })
  assert.equal(closed.headers['access-control-allow-origin'], undefined)
  const open = await buildApp({
    metrics: createMetrics({ defaultMetrics: false }),
    db,
    corsOrigins: ['https://a.example'],
  })
  t.after(() => open.close())
  const allowed = await open.inject({ url: '/api/v1/symbols', headers: origin })
  assert.equal(allowed.statusCode, 200)
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://a.example')
  const preflight = await open.inject({
    method: 'OPTIONS',
    url: '/api/v1/bars',
    headers: { ...origin, 'access-control-request-method': 'GET' },
  })
  assert.equal(preflight.statusCode, 204)
  assert.equal(preflight.headers['access-control-allow-origin'], 'https://a.example')
  const other = await open.inject({ url: '/api/v1/symbols', headers: { origin: 'https://evil.example' } })
  assert.equal(other.headers['access-control-allow-origin'], undefined)
})
