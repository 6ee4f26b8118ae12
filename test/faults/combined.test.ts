// Poison messages, processor SIGKILLs and a broker restart in one run: every message produced ends
// either stored or dead-lettered, exactly once (stored + dead-lettered = produced), the stored
// trades are exactly the valid ones, and bars equal the GROUP BY over ticks.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import type { OutMessage } from '../../src/bus/types.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { encodeTrade, type Trade } from '../../src/domain/trade.ts'
import { simulate } from '../../src/sources/simulator.ts'
import { startCli, type CliProcess } from '../support/cli.ts'
import { TradeChecksum } from '../support/checksum.ts'
import { assertExact, ownServices, waitCaughtUp } from '../support/scenario.ts'

const SYMBOLS = ['CA', 'CB', 'CC', 'CD', 'CE', 'CF']
const ROUNDS = 40

interface Round {
  messages: OutMessage[]
  dead: Record<string, number>
}

/** One round: 500 valid trades and a mix of bad messages; the expected outcome is recorded. */
function round(i: number, valid: Trade[], expected: TradeChecksum): Round {
  const dead: Record<string, number> = {}
  const bad = (reason: string, m: OutMessage): OutMessage => {
    dead[reason] = (dead[reason] ?? 0) + 1
    return m
  }
  const messages: OutMessage[] = []
  for (const t of valid.slice(i * 500, (i + 1) * 500)) {
    expected.add(t)
    messages.push({ key: t.symbol, value: encodeTrade(t) })
  }
  // Seven fraction digits just before midnight: valid, stored truncated on its own day.
  const edge = { ...valid[i]!, ts: '2020-01-01T23:59:59.9999999Z', id: `edge-${i}` }
  expected.add({ ...edge, ts: '2020-01-01T23:59:59.999999Z' })
  messages.push({ key: edge.symbol, value: encodeTrade(edge) })
  // Random bytes are not JSON; the few that begin with 0x00 are read as Avro-framed and, with no
  // registry configured, carry an unknown schema.
  const junk = (value: Buffer): OutMessage =>
    bad(value[0] === 0 ? 'unknown_schema' : 'malformed_json', { key: SYMBOLS[value[1]! % 6]!, value })
  if (i === 10) messages.push(junk(randomBytes(1_048_400)))
  if (i >= 5 && i < 15) for (let j = 0; j < 200; j++) messages.push(junk(randomBytes(400)))
  const t = valid[i]!
  const wire = (id: string): string => encodeTrade({ ...t, id: 'X' }).replace('"id":"X"', `"id":"${id}"`)
  messages.push(bad('bad_trade_id', { key: t.symbol, value: wire('\\ud800') }))
  messages.push(bad('bad_trade_id', { key: t.symbol, value: wire(`r${i}\\udfff`) }))
  messages.push(
    bad('future_timestamp', {
      key: t.symbol,
      value: encodeTrade({ ...t, ts: '2199-01-01T00:00:00Z', id: `f${i}` }),
    }),
  )
  if (i > 0) {
    const again = valid[(i - 1) * 500]!
    messages.push(bad('duplicate_trade_id', { key: again.symbol, value: encodeTrade(again) }))
  }
  return { messages, dead }
}

test('poison messages + processor SIGKILLs + a broker restart: stored + dead-lettered = produced, exactly', async (t) => {
  const { kafka, database, env } = await ownServices(t, 'combined', [
    { nodeId: 1, port: 19392, controllerPort: 19393, jmxPort: 17371 },
  ])
  const brokers = [kafka.brokers]
  const bus = createKafkaBus({ brokers })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: 'ticks', partitions: 3 })
  const valid = [
    ...simulate({
      symbols: SYMBOLS,
      rate: 2000,
      realtime: false,
      count: ROUNDS * 500,
      seed: 77,
      start: Date.parse('2026-11-24T14:30:00Z'),
    }),
  ]
  const expected = new TradeChecksum()
  const deadExpected: Record<string, number> = {}
  let proc: CliProcess = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))

  const producer = bus.producer()
  const producing = (async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const r = round(i, valid, expected)
      for (const [reason, n] of Object.entries(r.dead)) deadExpected[reason] = (deadExpected[reason] ?? 0) + n
      // The 1 MB message goes alone: a request holding it and others would exceed the topic's limit.
      const big = r.messages.filter((m) => m.value.length > 100_000)
      const small = r.messages.filter((m) => m.value.length <= 100_000)
      for (const m of big) await producer.send('ticks', [m])
      for (let k = 0; k < small.length; k += 400) await producer.send('ticks', small.slice(k, k + 400))
      await sleep(150) // pacing: the faults below fall while rounds are still being produced
    }
  })()
  const kill = async (): Promise<void> => {
    proc.child.kill('SIGKILL')
    await proc.exited
    proc = startCli(['process'], env)
  }
  // Two kills, the broker stopped and started again, a third kill once it is back (a processor
  // started while no broker answers stops by design: start-up needs the topics). The sleeps are
  // not waits for a state: they let the producer and the processors run under load between faults.
  await sleep(1500)
  await kill()
  await sleep(1500)
  await kill()
  await sleep(1500)
  await kafka.nodes[0]!.stop()
  await sleep(2000)
  await kafka.nodes[0]!.start()
  await sleep(1500)
  await kill()
  await producing

  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await waitCaughtUp(brokers, db, 'proc', 'ticks', 180_000, () => proc.output())
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())

  const produced = [...(await bus.endOffsets('ticks')).values()].reduce((a, b) => a + b, 0n)
  const [row] = await db.query<{ ticks: string; dead: string }>(
    'select (select count(*) from ticks)::text as ticks, (select count(*) from dead_letters)::text as dead',
  )
  assert.equal(BigInt(row!.ticks) + BigInt(row!.dead), produced, 'stored + dead-lettered = produced')
  await assertExact(db, expected)
  const reasons = await db.query<{ reason: string; n: string }>(
    'select reason, count(*)::text as n from dead_letters group by 1 order by 1',
  )
  assert.deepEqual(
    Object.fromEntries(reasons.map((r) => [r.reason, Number(r.n)])),
    Object.fromEntries(Object.entries(deadExpected).sort()),
  )
  // The DLQ topic got every dead letter at least once (a killed processor may publish again).
  const dlq = [...(await bus.endOffsets('ticks.dlq')).values()].reduce((a, b) => a + b, 0n)
  assert.ok(dlq >= BigInt(row!.dead), `${dlq} DLQ messages for ${row!.dead} dead letters`)
})
