// The S&P 500 daily-bars file straight into bars (1d): every good row a bar with its exact values,
// the rows with missing prices (and impossible bars) dead-lettered, and a re-run changes nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { connectPostgres } from '../../src/store/db.ts'
import { runCli } from '../support/cli.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { dataFile } from '../support/data.ts'

test('tickflow replay --format daily-bars fills 1d bars and dead-letters rows that cannot be bars', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const file = dataFile('all_stocks_5yr.csv.gz')
  const env = { DATABASE_URL: database.url, KAFKA_BROKERS: '', TICKFLOW_BARS_TIMEZONE: 'America/New_York' }
  const first = await runCli(['replay', file.path, '--format', 'daily-bars'], env)
  assert.equal(first.code, 0, first.output)
  // The full file: 619,040 rows = 619,017 bars + 11 rows with empty prices + 12 impossible bars
  // (high below open/close or low above them). The excerpt: 300 good rows + those 23.
  const bars = file.full ? 619_017 : 300
  assert.match(first.output, new RegExp(`${bars} daily bars imported, 23 rows dead-lettered`))

  const db = connectPostgres(database.url)
  t.after(() => db.close())
  const [count] = await db.query<{ n: string; symbols: string }>(
    "select count(*)::text as n, count(distinct symbol)::text as symbols from bars where interval = '1d' and origin = 'import'",
  )
  assert.deepEqual(count, { n: String(bars), symbols: file.full ? '505' : '1' })
  const reasons = await db.query<{ reason: string; n: string }>(
    'select reason, count(*)::text as n from dead_letters group by 1 order by 1',
  )
  assert.deepEqual(reasons, [
    { reason: 'inconsistent_bar', n: '12' },
    { reason: 'missing_price', n: '11' },
  ])
  const [missing] = await db.query<{ payload: Buffer; topic: string }>(
    "select payload, topic from dead_letters where key = 'BHF'",
  )
  assert.equal(missing!.payload.toString(), '2017-07-26,,,,69.0842,3,BHF')
  assert.equal(missing!.topic, 'file:all_stocks_5yr.csv.gz')
  // Exact values, and the bucket is midnight in New York.
  const [aal] = await db.query(
    "select to_char(bucket at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as bucket, open::text, high::text, low::text, close::text, volume::text from bars where symbol = 'AAL' order by bucket limit 1",
  )
  assert.deepEqual(aal, {
    bucket: '2013-02-08 05:00',
    open: '15.07',
    high: '15.12',
    low: '14.63',
    close: '14.75',
    volume: '8407500',
  })

  const again = await runCli(['replay', file.path, '--format', 'daily-bars'], env)
  assert.equal(again.code, 0, again.output)
  const [after] = await db.query<{ n: string }>("select count(*)::text as n from bars where interval = '1d'")
  const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
  assert.deepEqual([after!.n, dead!.n], [String(bars), '23'])
})

test('a semicolon- or tab-separated daily-bars file imports as its comma-separated twin', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'daily-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // The first 200 rows of the S&P 500 file (the excerpt's too), which include rows without prices.
  const lines = gunzipSync(readFileSync(dataFile('all_stocks_5yr.csv.gz').path))
    .toString('utf8')
    .split('\n')
    .slice(0, 201)
  const bars = async (d: string): Promise<string[]> => {
    const database = await createTestDatabase()
    t.after(() => database.drop())
    const file = join(dir, `daily-${d === '\t' ? 'tab' : d}.csv`)
    writeFileSync(file, lines.map((l) => l.replaceAll(',', d)).join('\n') + '\n')
    const run = await runCli(['replay', file, '--format', 'daily-bars'], {
      DATABASE_URL: database.url,
      KAFKA_BROKERS: '',
    })
    assert.equal(run.code, 0, run.output)
    const db = connectPostgres(database.url)
    t.after(() => db.close())
    const rows = await db.query<{ row: string }>(
      `select concat_ws(' ', symbol, bucket::date, open, high, low, close, volume) as row from bars order by symbol, bucket`,
    )
    const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
    return [...rows.map((r) => r.row), `dead ${dead!.n}`]
  }
  const comma = await bars(',')
  // Every one of the 200 rows is a bar or a dead letter.
  assert.equal(comma.length - 1 + Number(comma.at(-1)!.split(' ')[1]), 200)
  // Seen before: "no date column in [\"date;open;high;…\"]" and nothing imported.
  assert.deepEqual(await bars(';'), comma)
  assert.deepEqual(await bars('\t'), comma)
})
