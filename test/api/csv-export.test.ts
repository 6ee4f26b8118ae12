// A 1,000,000-row CSV export from `tickflow serve` (its own process, real PostgreSQL filled with
// generate_series): every row arrives, the sizes add up to the database's sum, and the server's
// resident memory grows by less than 50 MB, after the export and at its peak while streaming (measured
// on the second export; the first one's figure is printed).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import type { Tick } from '../../src/domain/types.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { startCli } from '../support/cli.ts'

const ROWS = 1_000_000
const MB = 1024 * 1024

function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) * 1024
}

test('a million-row CSV export streams with flat server memory', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  // One trade every 150 ms from 2024-01-01: 1,000,000 trades over two days' partitions, which the
  // store creates as it would for trades on those days.
  await new TickStore(db).ensurePartitions([
    { ts: '2024-01-01T00:00:00.000000Z' } as Tick,
    { ts: '2024-01-02T00:00:00.000000Z' } as Tick,
  ])
  await db.query(
    `insert into ticks (symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition)
     select 'BIG', timestamptz '2024-01-01 00:00:00+00' + i * interval '150 milliseconds',
            100 + (i % 1000) / 100.0, 1 + i % 7, 'test', 't' || i, i, 0
     from generate_series(0, $1::int - 1) as i`,
    [ROWS],
  )
  const [sum] = await db.query<{ s: string }>("select sum(size)::text as s from ticks where symbol = 'BIG'")

  const serve = startCli(['serve', '--port', '0'], { DATABASE_URL: database.url, LOG_LEVEL: 'info' })
  t.after(() => void serve.child.kill('SIGKILL'))
  let address = ''
  for (const deadline = Date.now() + 30_000; !address; await sleep(100)) {
    address = /dashboard (http:\/\/[^/\s]+)/.exec(serve.output())?.[1] ?? ''
    assert.ok(Date.now() < deadline, `tickflow serve did not start: ${serve.output()}`)
  }
  const url = `${address}/api/v1/trades?symbol=BIG&from=2024-01-01&to=2024-01-03&format=csv`
  // One whole export first: it loads the code and lets V8 grow its heap to its working size (about
  // 50 MB once per process, measured). The export measured next must then add nothing that grows
  // with the rows.
  const pid = serve.child.pid!
  const started = rss(pid)
  const warm = await fetch(url).then((r) => r.text())
  assert.equal(warm.split('\n').length, ROWS + 2)
  const before = rss(pid)
  let peak = before
  const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 100)

  const res = await fetch(url)
  assert.equal(res.status, 200)
  let lines = 0
  let total = 0n
  let rest = ''
  const decoder = new TextDecoder()
  for await (const chunk of res.body!) {
    const text = rest + decoder.decode(chunk as Uint8Array, { stream: true })
    const parts = text.split('\n')
    rest = parts.pop()!
    for (const line of parts) {
      if (lines++ === 0) {
        assert.equal(line, 'symbol,ts,price,size,source,tradeId,partition,seq')
        continue
      }
      total += BigInt(line.split(',')[3]!)
    }
  }
  clearInterval(sampler)
  const after = rss(pid)
  assert.equal(rest, '')
  assert.equal(lines - 1, ROWS)
  assert.equal(total.toString(), sum!.s)
  const grew = (after - before) / MB
  const peakGrew = (peak - before) / MB
  t.diagnostic(`first export: server RSS ${(started / MB).toFixed(1)} → ${(before / MB).toFixed(1)} MB`)
  t.diagnostic(
    `second export: server RSS ${(before / MB).toFixed(1)} MB before, ${(after / MB).toFixed(1)} MB after (+${grew.toFixed(1)}), peak +${peakGrew.toFixed(1)} MB`,
  )
  assert.ok(grew < 50, `RSS grew by ${grew.toFixed(1)} MB`)
  assert.ok(peakGrew < 50, `RSS peaked ${peakGrew.toFixed(1)} MB above the baseline`)
  serve.child.kill('SIGTERM')
  assert.equal((await serve.exited).code, 0, serve.output())
})
