// The producer is killed during a replay and started again: it replays from the start and the
// repeats are recognised by their source trade ids, so ticks hold every recorded trade once.
// (Why ids rather than a position checkpoint: a checkpoint written after the broker's ack still
// loses the race with a crash between ack and checkpoint, so the repeat must be caught
// downstream anyway; trade ids catch it exactly, for every source that has ids.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres } from '../../src/store/db.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { waitProduced } from '../support/wait.ts'
import { pipelineEnv, testBrokers, uniqueTopic } from '../support/topics.ts'
import { startCli, runCli } from '../support/cli.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { binanceFeedTrades, dataFile } from '../support/data.ts'
import { waitCaughtUp } from '../support/scenario.ts'
import { checkBars } from '../support/bars.ts'

test('producer SIGKILLed mid-replay and restarted: every recorded trade stored once', async (t) => {
  const feed = dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz')
  const trades = binanceFeedTrades(feed.path)
  const expected = new TradeChecksum()
  for (const tr of trades) expected.add(tr)
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('replay-restart')
  const env = pipelineEnv(topic, database.url)
  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  // The recording spans about six minutes: at 60× it takes about six seconds to replay.
  const first = startCli(['replay', feed.path, '--speed', '60'], env)
  // Kill it once part of the recording is in the topic (and well before the end).
  await waitProduced(
    testBrokers(),
    topic,
    Math.min(1000, Math.floor(trades.length / 3)),
    60_000,
    first.output,
  )
  first.child.kill('SIGKILL')
  await first.exited
  const second = await runCli(['replay', feed.path, '--speed', '0'], env)
  assert.equal(second.code, 0, second.output)
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await waitCaughtUp(testBrokers(), db, 'proc', topic, 90_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  const got = await tableChecksum(db)
  assert.equal(got.count, trades.length)
  assert.equal(got.sum, expected.sum)
  const [dup] = await db.query<{ n: string }>(
    "select count(*)::text as n from dead_letters where reason = 'duplicate_trade_id'",
  )
  const [other] = await db.query<{ n: string }>(
    "select count(*)::text as n from dead_letters where reason <> 'duplicate_trade_id'",
  )
  assert.ok(
    Number(dup!.n) > 0,
    'the killed replay produced nothing before the kill: the scenario did not happen',
  )
  assert.equal(other!.n, '0')
  const bars = await checkBars(db)
  assert.deepEqual({ missing: bars.missing, extra: bars.extra }, { missing: 0, extra: 0 })
})
