// The dashboard's "vs Spark" comparison in real Chromium against `tickflow serve` and PostgreSQL:
// tickflow's bars of a replayed file, and spark_bars holding the same bars but for one close
// changed and one bar missing. The comparison draws Spark's closes as they are stored, names
// exactly the two buckets that differ, says "all equal" where they are, and lives in the URL. Any
// console error, page error or failed request fails the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPostgres } from '../../src/store/db.ts'
import { runCli } from '../support/cli.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { openBrowser, serve } from '../support/dashboard.ts'

const T0 = Date.parse('2026-11-24T10:00:00Z')
const SYMBOL = 'CMP1'
// 150 trades four seconds apart: ten 1m bars and 150 1s bars, each series within the chart's first
// page, so the bars it holds do not depend on when it chooses to load an older page.
const TRADES = Array.from({ length: 150 }, (_, i) => ({
  symbol: SYMBOL,
  ts: new Date(T0 + i * 4000).toISOString(),
  price: `${100 + ((i * 7) % 13)}.${i % 10}0`,
  size: `${1 + (i % 4)}.25`,
}))

interface Compare {
  on: boolean
  loading: boolean
  spark: number
  tickflow: number
  differ: number
  examples: string[]
  drawn: [number, number | null][]
}

test('vs Spark: Spark closes drawn over the candles, the differing buckets counted and named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-dash-spark-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'trades.ndjson')
  writeFileSync(file, TRADES.map((x) => JSON.stringify(x)).join('\n') + '\n')
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const replay = await runCli(['replay', file, '--speed', '0'], {
    DATABASE_URL: database.url,
    KAFKA_BROKERS: '',
  })
  assert.equal(replay.code, 0, replay.output)
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await db.query(`insert into spark_bars (symbol, interval, bucket, open, high, low, close, volume, pv, vwap,
      trades, open_ts, open_seq, close_ts, close_seq, batch_id)
    select symbol, interval, bucket, open, high, low, close, volume, pv, vwap, trades, open_ts, open_seq,
      close_ts, close_seq, 0 from bars`)
  await db.query(
    "update spark_bars set close = close + 0.01 where interval = '1m' and bucket = '2026-11-24T10:03:00Z'",
  )
  await db.query("delete from spark_bars where interval = '1m' and bucket = '2026-11-24T10:07:00Z'")
  const sparkCloses = async (interval: string, limit: number) =>
    (
      await db.query<{ t: string; close: string }>(
        `select extract(epoch from bucket)::text as t, close::text from
           (select * from spark_bars where interval = $1 order by bucket desc limit $2) x order by bucket`,
        [interval, limit],
      )
    ).map((r) => [Number(r.t), Number(r.close)])

  const address = await serve(t, database.url)
  const { page, errors } = await openBrowser(t)
  const settled = (interval: string, tickflow: number) =>
    page.waitForFunction(
      `(s => s.ready && !s.loading && s.interval === '${interval}' && s.compare.on && !s.compare.loading && s.compare.tickflow === ${tickflow})(window.__tickflow)`,
      undefined,
      { timeout: 30_000 },
    )
  const compare = () => page.evaluate<Compare>('window.__tickflow.compare')
  const result = async () => (await page.locator('#compare-result').textContent())?.trim()

  await page.goto(`${address}/?symbol=${SYMBOL}&interval=1m&compare=spark`)
  await settled('1m', 10)
  const m = await compare()
  assert.deepEqual(
    { spark: m.spark, tickflow: m.tickflow, differ: m.differ, examples: m.examples },
    { spark: 9, tickflow: 10, differ: 2, examples: ['2026-11-24T10:03:00Z', '2026-11-24T10:07:00Z'] },
  )
  assert.deepEqual(m.drawn, await sparkCloses('1m', 10))
  assert.equal(await result(), "Spark: 9 bars, 2 differ from tickflow's 10")
  assert.equal(await page.locator('#compare').getAttribute('aria-pressed'), 'true')

  // One-second bars agree: all 150, equal.
  await page.click('button[data-interval="1s"]')
  await settled('1s', 150)
  const s = await compare()
  assert.deepEqual({ spark: s.spark, differ: s.differ }, { spark: 150, differ: 0 })
  assert.deepEqual(s.drawn, await sparkCloses('1s', 150))
  assert.equal(await result(), 'Spark: 150 bars, all equal')
  await page.waitForFunction(
    `(q => q.get('compare') === 'spark' && q.get('interval') === '1s')(new URLSearchParams(location.search))`,
  )

  // Off: nothing drawn, nothing said, and the URL forgets it (a reload keeps it off).
  await page.click('#compare')
  const off = await compare()
  assert.deepEqual({ on: off.on, spark: off.spark, drawn: off.drawn }, { on: false, spark: 0, drawn: [] })
  assert.equal(await result(), '')
  await page.waitForFunction(`!new URLSearchParams(location.search).has('compare')`)
  await page.goto(page.url())
  await page.waitForFunction('window.__tickflow.ready && !window.__tickflow.loading')
  assert.equal((await compare()).on, false)
  assert.deepEqual(errors, [])
})
