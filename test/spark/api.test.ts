// GET /api/v1/bars?source=spark serves the Spark job's bars (spark_bars) in the same shape as
// tickflow's; a bad source is a 400 naming the parameter.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setup } from '../support/api.ts'

test('source=spark serves spark_bars next to tickflow bars; a bad source is a 400 naming it', async (t) => {
  const { app, db } = await setup(t)
  // The Spark job's bar for the same minute, with a different count so the two are told apart.
  await db.query(
    `insert into spark_bars (symbol, interval, bucket, open, high, low, close, volume, pv, vwap, trades,
       open_ts, open_seq, close_ts, close_seq, batch_id)
     values ('AAPL', '1m', '2026-11-24T15:30:00Z', 189.10, 189.50, 189.10, 189.50, 300, 56830.00, 189.4333, 2,
       '2026-11-24T15:30:00.1Z', 0, '2026-11-24T15:30:30Z', 1, 0),
            ('AAPL', '1d', '2026-11-24T00:00:00Z', 189.10, 189.50, 189.10, 189.50, 300, 56830.00, 189.4333, 2,
       '2026-11-24T15:30:00.1Z', 0, '2026-11-24T15:30:30Z', 1, 0)`,
  )
  const get = async (q: string) => {
    const res = await app.inject(`/api/v1/bars?symbol=AAPL&interval=1m${q}`)
    assert.equal(res.statusCode, 200, res.body)
    return res.json<{ data: { bucket: string; trades: string; vwap: string }[] }>().data
  }
  const spark = await get('&source=spark')
  assert.deepEqual(
    spark.map((b) => [b.bucket, b.trades, b.vwap]),
    [['2026-11-24T15:30:00Z', '2', '189.4333']],
  )
  const tickflow = await get('')
  assert.deepEqual(await get('&source=tickflow'), tickflow)
  assert.deepEqual(
    tickflow.map((b) => [b.bucket, b.trades]),
    [
      ['2026-11-24T15:29:00Z', '1'],
      ['2026-11-24T15:30:00Z', '2'],
      ['2026-11-24T15:31:00Z', '1'],
    ],
  )
  for (const bad of ['sparks', 'SPARK', 'bars', '']) {
    const res = await app.inject(`/api/v1/bars?symbol=AAPL&interval=1m&source=${bad}`)
    assert.equal(res.statusCode, 400, bad)
    const body = res.json<{ param: string; message: string }>()
    assert.equal(body.param, 'source')
    assert.match(body.message, /^source /)
  }
})
