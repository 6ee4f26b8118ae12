// GET /api/v1/dead-letters and the CSV export of trades, bars and dead letters, on real PostgreSQL
// rows written by the store: exact reasons, origins and payloads (text or base64), filters, keyset
// paging both ways, and CSV that parses back to the JSON rows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parse } from 'csv-parse/sync'
import { setup } from '../support/api.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { openPglite } from '../../src/store/db.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

interface Dead {
  id: string
  receivedAt: string
  reason: string
  detail: string | null
  topic: string
  partition: number
  offset: string
  key: string | null
  payload: string
  encoding: string
}
type Page<R> = { data: R[]; nextCursor: string | null; prevCursor: string | null }

test('dead letters: reason, detail, origin and payload as text or base64; filters and cursors', async (t) => {
  const { app } = await setup(t)
  const get = async (url: string): Promise<Page<Dead>> => {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
    return res.json<Page<Dead>>()
  }
  const all = await get('/api/v1/dead-letters')
  assert.deepEqual(
    all.data.map((d) => [d.reason, d.topic, d.partition, d.offset, d.key, d.encoding, d.payload]),
    [
      [
        'malformed_json',
        'ticks',
        0,
        '6',
        'AAPL',
        'base64',
        Buffer.from([0xff, 0xfe, 0x00, 0x7b]).toString('base64'),
      ],
      [
        'bad_price',
        'ticks',
        0,
        '7',
        'AAPL',
        'utf8',
        encodeTrade({
          v: 1,
          type: 'trade',
          symbol: 'AAPL',
          ts: '2026-11-24T15:30:00.100000Z',
          price: '-1',
          size: '1',
          source: 'test',
          id: 'b1',
        }),
      ],
      [
        'bad_symbol',
        'ticks',
        0,
        '8',
        'AAPL',
        'utf8',
        '{"v":1,"type":"trade","symbol":"a a","ts":"2026-11-24T15:30:00Z","price":"1","size":"1","source":"test"}',
      ],
    ],
  )
  for (const d of all.data) assert.ok(d.detail && d.detail.length > 0, JSON.stringify(d))

  assert.deepEqual(
    (await get('/api/v1/dead-letters?reason=bad_price')).data.map((d) => d.offset),
    ['7'],
  )
  const middle = all.data[1]!.receivedAt
  assert.deepEqual(
    (await get(`/api/v1/dead-letters?from=${middle}`)).data.map((d) => d.offset),
    ['7', '8'],
  )
  assert.deepEqual(
    (await get(`/api/v1/dead-letters?to=${middle}`)).data.map((d) => d.offset),
    ['6'],
  )
  const latest = await get('/api/v1/dead-letters?order=desc&limit=2')
  assert.deepEqual(
    latest.data.map((d) => d.offset),
    ['8', '7'],
  )
  const older = await get(`/api/v1/dead-letters?order=desc&limit=2&cursor=${latest.nextCursor}`)
  assert.deepEqual(
    older.data.map((d) => d.offset),
    ['6'],
  )
  assert.equal(older.nextCursor, null)
  assert.deepEqual(
    (await get(`/api/v1/dead-letters?order=desc&limit=2&cursor=${older.prevCursor}`)).data,
    latest.data,
  )

  const reasons = (await app.inject('/api/v1/dead-letters/reasons')).json<{
    data: { reason: string; count: string }[]
  }>()
  assert.deepEqual(reasons.data.map((r) => [r.reason, r.count]).sort(), [
    ['bad_price', '1'],
    ['bad_symbol', '1'],
    ['malformed_json', '1'],
  ])
})

for (const store of ['PostgreSQL (COPY)', 'PGlite (keyset pages)'] as const)
  test(`CSV export on ${store} (format=csv or Accept: text/csv) holds exactly the rows the JSON pages hold`, async (t) => {
    const pglite = async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tickflow-csv-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      return openPglite(dir)
    }
    const { app } = await setup(t, store.startsWith('PGlite') ? pglite : undefined)
    const cases: [string, string][] = [
      ['/api/v1/trades?symbol=AAPL', 'trades-AAPL'],
      ['/api/v1/bars?symbol=AAPL&interval=1m&order=desc', 'bars-AAPL-1m'],
      ['/api/v1/dead-letters', 'dead-letters'],
    ]
    for (const [url, name] of cases) {
      const json = (await app.inject(url)).json<Page<Record<string, string | number | null>>>().data
      for (const res of [
        await app.inject(`${url}&format=csv`.replace('dead-letters&', 'dead-letters?')),
        await app.inject({ url, headers: { accept: 'text/csv' } }),
      ]) {
        assert.equal(res.statusCode, 200, url)
        assert.match(res.headers['content-type'] as string, /^text\/csv/)
        assert.equal(res.headers['content-disposition'], `attachment; filename="${name}.csv"`)
        const rows = parse<Record<string, string>>(res.body, { columns: true })
        assert.equal(rows.length, json.length, url)
        assert.ok(rows.length > 0)
        const asText = json.map((r) =>
          Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? '' : String(v)])),
        )
        assert.deepEqual(rows, asText, url)
      }
    }
    // limit caps a CSV export's total rows.
    const two = await app.inject('/api/v1/trades?symbol=AAPL&format=csv&limit=2')
    assert.equal(two.body.trim().split('\n').length, 3)
  })
