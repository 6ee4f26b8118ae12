// Realized volatility per window over the Spark job's 1-second bars (view spark_realized_volatility):
// sqrt(Σ r²) of the log returns between consecutive closes, each in the window of its later bar.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { createTestDatabase } from '../support/postgres.ts'

test('spark_realized_volatility: sqrt of the summed squared log returns per window', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  // Closes at 10:00:58, :59, 10:01:00, :01: one return falls in 10:00, two in 10:01.
  const closes: [string, string][] = [
    ['2026-11-24T10:00:58Z', '100'],
    ['2026-11-24T10:00:59Z', '101'],
    ['2026-11-24T10:01:00Z', '99.5'],
    ['2026-11-24T10:01:01Z', '100'],
  ]
  for (const [bucket, close] of closes)
    await db.query(
      `insert into spark_bars (symbol, interval, bucket, open, high, low, close, volume, pv, vwap, trades,
         open_ts, open_seq, close_ts, close_seq, batch_id)
       values ('V', '1s', $1, $2, $2, $2, $2, 1, $2, $2, 1, $1, 0, $1, 0, 0)`,
      [bucket, close],
    )
  const rows = await db.query<{ interval: string; bucket: string; vol: number; returns: string }>(
    `select interval, to_char(bucket at time zone 'UTC', 'HH24:MI') as bucket, realized_volatility::float8 as vol,
            returns::text as returns
     from spark_realized_volatility where symbol = 'V' order by interval, bucket`,
  )
  const r = (a: number, b: number): number => Math.log(b / a) ** 2
  const expected = [
    ['1d', '00:00', Math.sqrt(r(100, 101) + r(101, 99.5) + r(99.5, 100)), '3'],
    ['1h', '10:00', Math.sqrt(r(100, 101) + r(101, 99.5) + r(99.5, 100)), '3'],
    ['1m', '10:00', Math.sqrt(r(100, 101)), '1'],
    ['1m', '10:01', Math.sqrt(r(101, 99.5) + r(99.5, 100)), '2'],
    ['5m', '10:00', Math.sqrt(r(100, 101) + r(101, 99.5) + r(99.5, 100)), '3'],
  ] as const
  assert.equal(rows.length, expected.length)
  rows.forEach((row, i) => {
    const [interval, bucket, vol, returns] = expected[i]!
    assert.deepEqual([row.interval, row.bucket, row.returns], [interval, bucket, returns])
    // numeric ln/sqrt in PostgreSQL against float64 here: equal to 12 significant digits
    assert.ok(Math.abs(row.vol - vol) <= vol * 1e-12, `${interval} ${bucket}: ${row.vol} vs ${vol}`)
  })
})
