// GET /api/v1/indicators and the indicator stream, on real PostgreSQL: realized volatility and
// session VWAP equal SQL window functions on every symbol of the daily file; pages (asc, desc,
// cursors, the latest N) equal the full CSV export, so a page's values never depend on where it
// starts; a late trade changes the values from its bar on, in the API and on the WebSocket; bad
// parameters get a 400 naming them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import WebSocket from 'ws'
import type { FastifyInstance } from 'fastify'
import { parse } from 'csv-parse/sync'
import { buildApp } from '../../src/api/app.ts'
import { LiveHub } from '../../src/api/live.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { runCli } from '../support/cli.ts'
import { dataFile } from '../support/data.ts'
import { createTestDatabase } from '../support/postgres.ts'

type Row = Record<string, string | null>

async function app(db: Db, hub?: LiveHub): Promise<FastifyInstance> {
  return buildApp({ metrics: createMetrics({ defaultMetrics: false }), db, hub })
}

async function csv(a: FastifyInstance, query: string): Promise<Row[]> {
  const res = await a.inject(`/api/v1/indicators?${query}&format=csv`)
  assert.equal(res.statusCode, 200, res.body)
  const rows = parse<Row>(res.body, { columns: true })
  // CSV has no null: an empty cell is a warm-up value.
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === '' ? null : v])))
}

async function json(a: FastifyInstance, query: string) {
  const res = await a.inject(`/api/v1/indicators?${query}`)
  assert.equal(res.statusCode, 200, res.body)
  return res.json<{ data: Row[]; nextCursor: string | null; prevCursor: string | null }>()
}

test('on the daily file: SQL truth, paging and latest-N', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const imported = await runCli(
    ['replay', dataFile('all_stocks_5yr.csv.gz').path, '--format', 'daily-bars'],
    {
      DATABASE_URL: database.url,
      KAFKA_BROKERS: '',
    },
  )
  assert.equal(imported.code, 0, imported.output)
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  const a = await app(db)
  t.after(() => a.close())
  const symbols = (
    await db.query<{ s: string }>("select distinct symbol as s from bars where interval = '1d' order by 1")
  ).map((r) => r.s)

  await t.test('realized volatility(20) equals stddev_samp of ln returns over a SQL window', async () => {
    const truth = await db.query<{ symbol: string; bucket: string; v: string | null }>(
      `with r as (select symbol, bucket, ln(close / lag(close) over (partition by symbol order by bucket)) as r
                  from bars where interval = '1d'),
            w as (select symbol, bucket,
                         stddev_samp(r) over (partition by symbol order by bucket rows 19 preceding) as sd,
                         count(r) over (partition by symbol order by bucket rows 19 preceding) as n
                  from r)
       select symbol, to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket,
              case when n = 20 then round(sd, 8)::text end as v
       from w order by symbol, bucket`,
    )
    const ours: string[] = []
    for (const s of symbols)
      for (const r of await csv(a, `symbol=${s}&interval=1d&name=volatility&period=20`))
        ours.push(`${r.symbol} ${r.bucket} ${r.value}`)
    assert.equal(ours.length, truth.length)
    assert.deepEqual(
      ours,
      truth.map((r) => `${r.symbol} ${r.bucket} ${r.v}`),
    )
    assert.ok(truth.filter((r) => r.v !== null).length > truth.length * 0.9)
  })

  await t.test('session VWAP of imported daily bars equals the typical price by SQL', async () => {
    const truth = await db.query<{ symbol: string; bucket: string; v: string }>(
      `select symbol, to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket,
              round(sum((high + low + close) * volume) over s / (3 * sum(volume) over s), 8)::text as v
       from bars where interval = '1d' and volume > 0
       window s as (partition by symbol, bucket order by bucket)
       order by symbol, bucket`,
    )
    const ours: string[] = []
    for (const s of symbols)
      for (const r of await csv(a, `symbol=${s}&interval=1d&name=vwap`))
        if (r.value !== null) ours.push(`${r.symbol} ${r.bucket} ${r.value}`)
    assert.deepEqual(
      ours,
      truth.map((r) => `${r.symbol} ${r.bucket} ${r.v}`),
    )
  })

  const symbol = symbols.includes('AAPL') ? 'AAPL' : symbols[0]!
  for (const q of [
    'name=sma&period=20',
    'name=ema&period=12',
    'name=rsi&period=14',
    'name=bollinger&period=20&k=2.5',
    'name=macd&fast=12&slow=26&signal=9',
    'name=volatility&period=10',
    'name=vwap',
  ]) {
    await t.test(`${q}: JSON pages forward and back and the latest N equal the CSV export`, async () => {
      const base = `symbol=${symbol.toLowerCase()}&interval=1d&${q}`
      const all = await csv(a, base)
      const bars = await a.inject(`/api/v1/bars?symbol=${symbol}&interval=1d&format=csv`)
      assert.equal(all.length, bars.body.trim().split('\n').length - 1)
      // forward in pages of 97
      const forward: Row[] = []
      let cursor: string | null = null
      do {
        const p = await json(a, `${base}&limit=97${cursor ? `&cursor=${cursor}` : ''}`)
        forward.push(...p.data)
        cursor = p.nextCursor
      } while (cursor)
      assert.deepEqual(forward, all)
      // the latest 50, then the page before them
      const latest = await json(a, `${base}&order=desc&limit=50`)
      assert.deepEqual(latest.data, all.slice(-50).reverse())
      const before = await json(a, `${base}&order=desc&limit=50&cursor=${latest.nextCursor}`)
      assert.deepEqual(before.data, all.slice(-100, -50).reverse())
      // a range in the middle
      const mid = all[all.length >> 1]!.bucket!
      const ranged = await json(a, `${base}&from=${mid}&limit=5`)
      const i = all.findIndex((r) => r.bucket === mid)
      assert.deepEqual(ranged.data, all.slice(i, i + 5))
      assert.ok(all.at(-1)!.value !== null || all.at(-1)!.middle !== null || all.at(-1)!.macd !== null)
    })
  }
})

function items(trades: [string, string, string][], first: number): BatchItem[] {
  return trades.map(([ts, price, size], i) => {
    const offset = BigInt(first + i)
    const value = Buffer.from(
      encodeTrade({ v: 1, type: 'trade', symbol: 'LATE', ts, price, size, source: 'test', id: `l${offset}` }),
    )
    const c = classify({
      topic: 'ticks',
      partition: 0,
      offset,
      key: 'LATE',
      value,
      timestamp: 0,
      headers: {},
    })
    assert.ok(c.ok)
    return { topic: 'ticks', partition: 0, offset, tick: c.tick }
  })
}

test('a late trade changes the indicator from its bar on, in the API and on the stream', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const store = new TickStore(db)
  // One trade a minute, closes 10, 11, …, 19.
  const minute = (m: number, s = 0) =>
    `2026-11-24T15:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.000000Z`
  await writeBatch(
    store,
    'g',
    items(
      Array.from({ length: 10 }, (_, m) => [minute(m), String(10 + m), '100']),
      0,
    ),
  )
  const hub = new LiveHub()
  const a = await app(db, hub)
  await a.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => a.close())
  const q = 'symbol=LATE&interval=1m&name=sma&period=3'
  const sma = (rows: Row[]) => rows.map((r) => r.value)
  const before = await csv(a, q)
  assert.deepEqual(sma(before), [
    null,
    null,
    '11.00000000',
    '12.00000000',
    '13.00000000',
    '14.00000000',
    '15.00000000',
    '16.00000000',
    '17.00000000',
    '18.00000000',
  ])
  const emaBefore = await csv(a, 'symbol=LATE&interval=1m&name=ema&period=3')
  const vwapBefore = await csv(a, 'symbol=LATE&interval=1m&name=vwap')

  const port = (a.server.address() as { port: number }).port
  const ws = new WebSocket(
    `ws://127.0.0.1:${port}/api/v1/stream?symbols=LATE&indicators=sma(3)@1m,ema(3)@1m,rsi@1h`,
  )
  t.after(() => ws.close())
  const messages: { type: string; data: { indicator: string; rows: Row[] } }[] = []
  ws.on('message', (m: Buffer) => messages.push(JSON.parse(m.toString('utf8')) as (typeof messages)[number]))
  await once(ws, 'open')

  // A late trade at 15:04:30 (the bar's last trade now) at 40, and 300 more shares.
  await writeBatch(store, 'g', items([[minute(4, 30), '40', '300']], 10))
  const after = await csv(a, q)
  assert.deepEqual(sma(after.slice(0, 4)), sma(before.slice(0, 4)))
  // (12 + 13 + 40) / 3, (13 + 40 + 15) / 3, (40 + 15 + 16) / 3, then unchanged
  assert.deepEqual(sma(after.slice(4)), [
    '21.66666667',
    '22.66666667',
    '23.66666667',
    '16.00000000',
    '17.00000000',
    '18.00000000',
  ])
  const emaAfter = await csv(a, 'symbol=LATE&interval=1m&name=ema&period=3')
  assert.deepEqual(emaAfter.slice(0, 4), emaBefore.slice(0, 4))
  for (let i = 4; i < 10; i++) assert.notEqual(emaAfter[i]!.value, emaBefore[i]!.value, `ema at ${i}`)
  const vwapAfter = await csv(a, 'symbol=LATE&interval=1m&name=vwap')
  assert.deepEqual(vwapAfter.slice(0, 4), vwapBefore.slice(0, 4))
  // (10 + 11 + 12 + 13 + 14)·100 + 40·300 = 18000 over 800 shares
  assert.equal(vwapAfter[4]!.value, '22.50000000')
  // The processor publishes the changed bar; the stream answers with the values from it on.
  const bar = (
    await a.inject('/api/v1/bars?symbol=LATE&interval=1m&from=2026-11-24T15:04:00Z&limit=1')
  ).json<{ data: object[] }>().data[0]!
  hub.publish([{ type: 'bar', data: { ...(bar as Record<string, unknown>), final: false } as never }])
  for (const deadline = Date.now() + 10_000; messages.filter((m) => m.type === 'indicator').length < 2;) {
    assert.ok(Date.now() < deadline, JSON.stringify(messages))
    await new Promise((r) => setTimeout(r, 20))
  }
  const streamed = messages.filter((m) => m.type === 'indicator')
  assert.deepEqual(
    streamed.map((m) => m.data.indicator),
    ['sma(3)@1m', 'ema(3)@1m'],
  )
  assert.deepEqual(
    streamed[0]!.data.rows,
    after.slice(4).map((r) => ({ bucket: r.bucket, value: r.value })),
  )
  assert.deepEqual(
    streamed[1]!.data.rows,
    emaAfter.slice(4).map((r) => ({ bucket: r.bucket, value: r.value })),
  )
})

test('bad indicator parameters get a 400 naming them', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const a = await app(db, new LiveHub())
  t.after(() => a.close())
  const base = '/api/v1/indicators?symbol=AAPL&interval=1m'
  for (const [query, param, message] of [
    [`${base}`, 'name', 'name is required'],
    [`${base}&name=foo`, 'name', 'name must be equal to one of the allowed values'],
    [`${base}&name=sma&period=0`, 'period', 'period must be a whole number from 1 to 1000'],
    [`${base}&name=sma&period=1001`, 'period', 'period must be a whole number from 1 to 1000'],
    [`${base}&name=sma&period=x`, 'period', 'period must be integer'],
    [`${base}&name=volatility&period=1`, 'period', 'period must be a whole number from 2 to 1000'],
    [`${base}&name=macd&period=3`, 'period', 'period does not apply to macd'],
    [`${base}&name=macd&fast=26&slow=12`, 'slow', 'slow must be more than fast'],
    [`${base}&name=bollinger&k=0`, 'k', 'k must be over 0 and at most 10'],
    [`${base}&name=sma&k=2`, 'k', 'k does not apply to sma'],
    [`${base}&name=sma&interval2=1m`, 'interval2', 'interval2 is not a parameter of this endpoint'],
    [
      `/api/v1/indicators?symbol=AAPL&interval=2m&name=sma`,
      'interval',
      'interval must be equal to one of the allowed values',
    ],
    [
      `/api/v1/stream?indicators=sma(20)`,
      'indicators',
      'indicators: "sma(20)" is not name(params)@interval, e.g. sma(20)@1m, bollinger(20,2)@1d, macd(12,26,9)@5m, vwap@1m',
    ],
    [
      `/api/v1/stream?indicators=sma(0)@1m`,
      'indicators',
      'indicators: "sma(0)@1m" is invalid: period must be a whole number from 1 to 1000',
    ],
    [
      `/api/v1/stream?indicators=foo@1m`,
      'indicators',
      'indicators: "foo@1m" names no indicator: use one of sma, ema, rsi, bollinger, macd, volatility, vwap',
    ],
  ] as const) {
    const res = await a.inject(query)
    assert.equal(res.statusCode, 400, `${query}: ${res.body}`)
    assert.deepEqual(res.json(), { error: 'bad_request', param, message }, query)
  }
})
