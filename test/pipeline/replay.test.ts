// Replaying the recorded Binance feed stores exactly its trades: embedded and through Kafka.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPglite, connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { storedOffsets } from '../../src/store/ticks.ts'
import { runCli, startCli } from '../support/cli.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { binanceCsvTrades, binanceFeedTrades, dataFile } from '../support/data.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { waitFor } from '../support/wait.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { checkBars } from '../support/bars.ts'

const feed = dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz')

function expectedChecksum(): TradeChecksum {
  const sum = new TradeChecksum()
  const csv = join(feed.path, '../binance_usdm_btcusdt_20240808_trades.csv')
  // The full recording has a flattened CSV of the same trades beside it: check against that
  // (an independent derivation); the excerpt is checked against its own frames.
  for (const t of feed.full && existsSync(csv) ? binanceCsvTrades(csv) : binanceFeedTrades(feed.path))
    sum.add(t)
  return sum
}

test('tickflow replay of the recorded Binance feed (embedded) stores exactly its trades', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const run = await runCli(
    ['replay', feed.path, '--speed', '0'],
    { KAFKA_BROKERS: '', DATABASE_URL: '' },
    dir,
  )
  assert.equal(run.code, 0, run.output)
  const expected = expectedChecksum()
  if (feed.full) assert.equal(expected.count, 21_313)
  const db = await openPglite(join(dir, 'data/pglite'))
  t.after(() => db.close())
  const got = await tableChecksum(db)
  assert.equal(got.count, expected.count)
  assert.equal(got.sum, expected.sum)
  const [first] = await db.query<{ trade_id: string; price: string; size: string; source: string }>(
    'select trade_id, price::text, size::text, source from ticks order by ts, ingest_seq limit 1',
  )
  if (feed.full)
    assert.deepEqual(first, { trade_id: '5266583935', price: '61800.30', size: '0.006', source: 'replay' })
})

test('tickflow replay through Kafka into PostgreSQL stores exactly the recorded trades', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('replay')
  const env = {
    KAFKA_BROKERS: testBrokers().join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `g-${topic}`,
    DATABASE_URL: database.url,
  }
  const ingest = await runCli(['replay', feed.path, '--speed', '0', '--source-name', 'binance-replay'], env)
  assert.equal(ingest.code, 0, ingest.output)
  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  const bus = createKafkaBus({ brokers: testBrokers() })
  t.after(() => bus.close())
  const end = await bus.endOffsets(topic)
  await waitFor(
    async () => {
      const stored = await storedOffsets(db, `g-${topic}`, topic).catch(() => new Map<number, bigint>())
      return end.size > 0 && [...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)
    },
    60_000,
    () => `the processor to catch up: ${proc.output()}`,
    200,
  )
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  await migrate(db)
  const expected = expectedChecksum()
  const got = await tableChecksum(db)
  assert.equal(got.count, expected.count)
  assert.equal(got.sum, expected.sum)
  const [src] = await db.query<{ s: string }>("select string_agg(distinct source, ',') as s from ticks")
  assert.equal(src!.s, 'binance-replay')
  const bars = await checkBars(db)
  assert.deepEqual({ missing: bars.missing, extra: bars.extra }, { missing: 0, extra: 0 })
  // One one-minute bar per minute the recording's trades fall in (the full recording spans
  // 23:54–24:00 UTC on 2024-08-08; the shipped excerpt is shorter).
  const expectedMinutes = new Set(binanceFeedTrades(feed.path).map((tr) => tr.ts.slice(0, 16))).size
  if (feed.full) assert.ok(expectedMinutes >= 6)
  const [minutes] = await db.query<{ n: string }>(
    "select count(*)::text as n from bars where interval = '1m'",
  )
  assert.equal(Number(minutes!.n), expectedMinutes)
})
