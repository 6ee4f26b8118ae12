// Issue: the pipeline end to end, exactly once, on the real broker and database.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { storedOffsets } from '../../src/store/ticks.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { simulator } from '../../src/sources/simulator.ts'
import { pump } from '../../src/sources/pump.ts'
import { isUnparsed } from '../../src/domain/trade.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { waitFor } from '../support/wait.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { startCli, type CliProcess } from '../support/cli.ts'
import { checkBars } from '../support/bars.ts'

// TICKFLOW_SOAK=N multiplies the trades and the kills (a longer soak run by hand, e.g. N=10).
const SOAK = Math.max(1, Number(process.env.TICKFLOW_SOAK ?? 1))
const TRADES = 200_000 * SOAK
const KILLS = 10 * SOAK

const SYMBOLS = Array.from({ length: 50 }, (_, i) => `S${String(i).padStart(2, '0')}X`)

test(`${TRADES.toLocaleString('en')} trades over 50 symbols land exactly once while the processor is SIGKILLed ${KILLS} times at random moments`, async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('ticks-eo')
  const group = `proc-${topic}`
  const brokers = testBrokers()
  const bus = createKafkaBus({ brokers, clientId: 'test-eo' })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: 6 })
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)

  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: database.url,
    ...(process.env.TICKFLOW_TEST_LOG_FILE
      ? { LOG_LEVEL: 'debug', LOG_FILE: process.env.TICKFLOW_TEST_LOG_FILE }
      : {}),
  }
  let proc: CliProcess = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))

  // Produce at a steady 25,000 trades/s (about 8 s) so the kills land mid-stream.
  const expected = new TradeChecksum()
  const log = pino({ level: 'silent' })
  const metrics = createMetrics({ defaultMetrics: false })
  const source = simulator.create(
    simulator.options.parse({
      symbols: SYMBOLS,
      rate: 25_000,
      realtime: true,
      count: TRADES,
      seed: 42,
      start: Date.UTC(2026, 10, 24, 14, 30),
      batchSize: 1000,
    }),
    { log, metrics, signal: new AbortController().signal },
  )
  const producing = pump({
    source,
    producer: bus.producer(),
    topic,
    log,
    metrics,
    onSent: (ts) => ts.forEach((x) => (isUnparsed(x) ? assert.fail(x.reason) : expected.add(x))),
  })

  let kills = 0
  const killing = (async () => {
    while (kills < KILLS) {
      // Not a wait for a state: the kills fall at random moments of the stream.
      await sleep(700 + Math.random() * 1300)
      proc.child.kill('SIGKILL')
      await proc.exited
      kills++
      proc = startCli(['process'], env)
    }
  })()
  const sent = await producing
  await killing
  assert.equal(sent, TRADES)

  // Let the last processor catch up, then stop it cleanly (SIGTERM: flush, commit, close).
  const end = await bus.endOffsets(topic)
  await waitFor(
    async () => {
      const stored = await storedOffsets(db, group, topic)
      return [...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)
    },
    120_000,
    () => `the processor to catch up: ${proc.output()}`,
    250,
  )
  proc.child.kill('SIGTERM')
  const exit = await proc.exited
  assert.equal(exit.code, 0, proc.output())

  assert.equal(kills, KILLS)
  const got = await tableChecksum(db)
  assert.equal(got.count, TRADES)
  assert.equal(got.count, expected.count)
  assert.equal(got.sum, expected.sum)
  const [symbols] = await db.query<{ n: string }>('select count(distinct symbol)::text as n from ticks')
  assert.equal(symbols!.n, '50')
  const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
  assert.equal(dead!.n, '0')
  // Every bar equals the GROUP BY over the stored ticks, after six crashes.
  const bars = await checkBars(db)
  assert.deepEqual({ missing: bars.missing, extra: bars.extra }, { missing: 0, extra: 0 })
  const [daily] = await db.query<{ n: string; trades: string }>(
    "select count(*)::text as n, sum(trades)::text as trades from bars where interval = '1d'",
  )
  assert.deepEqual(daily, { n: '50', trades: String(TRADES) })
  assert.ok(bars.bars > 50 * 4, `only ${bars.bars} bars`)
})
