// Issue #18: alerts fire exactly once while the processor is SIGKILLed during a replay. A replay
// file (ten symbols, late trades) goes through the real broker; the processor is killed several
// times while it evaluates the rules; the stored firings must equal those computed independently
// from the file (test/support/alerts-oracle.ts), each once. The webhook of one rule gets every
// firing at least once, with its firing id as the Idempotency-Key, through failures and kills.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { storedOffsets } from '../../src/store/ticks.ts'
import { createRule } from '../../src/store/alerts.ts'
import type { AlertRule } from '../../src/domain/alerts.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { runCli, startCli, type CliProcess } from '../support/cli.ts'
import { oracleFirings, type OracleTrade } from '../support/alerts-oracle.ts'

const SYMBOLS = Array.from({ length: 10 }, (_, i) => `AL${i}`)
const TRADES = 30_000
const KILLS = 4

/** A seeded replay file: random walks in cents, one trade in ten up to 5 s late, unique ids. */
function replayFile(path: string): OracleTrade[] {
  let s = 11
  const rnd = (): number => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
  const price = new Map<string, number>()
  const base = Date.UTC(2026, 10, 24, 15)
  const trades: OracleTrade[] = []
  const lines = ['symbol,ts,price,size,id']
  for (let i = 0; i < TRADES; i++) {
    const symbol = SYMBOLS[Math.floor(rnd() * SYMBOLS.length)]!
    const p = Math.max(9000, (price.get(symbol) ?? 10_000) + Math.round((rnd() - 0.5) * 40))
    price.set(symbol, p)
    const late = rnd() < 0.1 ? Math.floor(rnd() * 5000) : 0
    const micros = (base + i * 20 - late) * 1000 + Math.floor(rnd() * 1000)
    const ts = `${new Date(Math.floor(micros / 1000)).toISOString().slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z`
    const t = {
      key: `t${i}`,
      symbol,
      micros,
      price: (p / 100).toFixed(2),
      size: String(1 + Math.floor(rnd() * 99)),
    }
    trades.push(t)
    lines.push(`${symbol},${ts},${t.price},${t.size},${t.key}`)
  }
  writeFileSync(path, lines.join('\n') + '\n')
  return trades
}

test(
  `alert firings of a ${TRADES.toLocaleString('en')}-trade replay are stored exactly once while the processor is SIGKILLed ${KILLS} times; the webhook gets each at least once`,
  { timeout: 1_500_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tickflow-alerts-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'trades.csv')
    const trades = replayFile(file)

    // The webhook receiver: one request in five answers 500 (the deliverer must retry).
    const received: string[] = []
    let requests = 0
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        requests++
        if (requests % 5 === 0) return void res.writeHead(500).end()
        const key = req.headers['idempotency-key']
        assert.equal(typeof key, 'string')
        assert.equal((JSON.parse(body) as { id: string }).id, key)
        received.push(key as string)
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => server.close())
    const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`

    const database = await createTestDatabase()
    t.after(() => database.drop())
    const db = connectPostgres(database.url)
    t.after(() => db.close())
    await migrate(db)
    const specs: Omit<AlertRule, 'id'>[] = [
      {
        kind: 'price_cross',
        params: { level: '100.1' },
        symbols: SYMBOLS,
        direction: 'up',
        name: 'up',
        webhookUrl: hook,
      },
      {
        kind: 'price_cross',
        params: { level: '99.9' },
        symbols: SYMBOLS,
        direction: 'down',
        name: null,
        webhookUrl: null,
      },
      {
        kind: 'price_cross',
        params: { level: '100.5' },
        symbols: SYMBOLS.slice(0, 5),
        direction: 'down',
        name: null,
        webhookUrl: null,
      },
      {
        kind: 'percent_move',
        params: { percent: '0.3', windowSeconds: 3 },
        symbols: SYMBOLS.slice(3),
        direction: 'up',
        name: null,
        webhookUrl: null,
      },
      {
        kind: 'percent_move',
        params: { percent: '0.3', windowSeconds: 3 },
        symbols: SYMBOLS,
        direction: 'down',
        name: null,
        webhookUrl: null,
      },
      {
        kind: 'indicator_cross',
        params: { indicator: 'rsi', period: 5, interval: '1s', threshold: '75' },
        symbols: SYMBOLS.slice(0, 2),
        direction: 'up',
        name: null,
        webhookUrl: null,
      },
      {
        kind: 'volume_spike',
        params: { multiple: '3', period: 4, interval: '1s' },
        symbols: SYMBOLS.slice(8),
        direction: 'up',
        name: null,
        webhookUrl: null,
      },
    ]
    const rules: AlertRule[] = []
    for (const r of specs) rules.push(await createRule(db, r))
    const expected = oracleFirings(rules, trades)
    for (const r of rules)
      assert.ok(
        [...expected].some((k) => k.startsWith(`${r.id} `)),
        `${r.kind} never fires`,
      )

    const topic = uniqueTopic('alerts-eo')
    const group = `proc-${topic}`
    const brokers = testBrokers()
    const bus = createKafkaBus({ brokers, clientId: 'test-alerts' })
    t.after(() => bus.close())
    await bus.ensureTopic({ name: topic, partitions: 3 })
    const env = {
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: group,
      DATABASE_URL: database.url,
      TICKFLOW_ALERT_WEBHOOK_TIMEOUT: '1s',
      TICKFLOW_ALERT_WEBHOOK_MAX_BACKOFF: '1s',
      ...(process.env.TICKFLOW_TEST_LOG_FILE
        ? { LOG_LEVEL: 'debug', LOG_FILE: process.env.TICKFLOW_TEST_LOG_FILE }
        : {}),
    }
    const replay = await runCli(['replay', file, '--speed', '0'], env)
    assert.equal(replay.code, 0, replay.output)
    const end = await bus.endOffsets(topic)
    const caughtUp = async (): Promise<boolean> => {
      const stored = await storedOffsets(db, group, topic)
      return [...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)
    }

    const progress = async (): Promise<string> => {
      const [row] = await db.query<{ n: string | null }>(
        'select sum(next_offset)::text as n from consumer_offsets where group_id = $1',
        [group],
      )
      return row?.n ?? '0'
    }
    const started = Date.now()
    let proc: CliProcess = startCli(['process'], env)
    t.after(() => void proc.child.kill('SIGKILL'))
    let midStream = 0
    for (let kills = 0; kills < KILLS; kills++) {
      // killed once it has stored something since it started, at a random moment after that
      const before = await progress()
      for (const deadline = Date.now() + 240_000; ;) {
        if ((await progress()) !== before || (await caughtUp())) break
        assert.ok(Date.now() < deadline, `no progress after ${kills} kills: ${proc.output()}`)
        await sleep(50)
      }
      // A short random delay: the processor drains the topic in a few seconds, and a kill after
      // it caught up would test nothing (400 ms left too few kills mid-stream once alert rules
      // were evaluated faster).
      await sleep(Math.random() * 150)
      if (!(await caughtUp())) midStream++
      proc.child.kill('SIGKILL')
      await proc.exited
      proc = startCli(['process'], env)
    }
    t.diagnostic(`${KILLS} kills in ${Date.now() - started} ms`)

    for (const deadline = Date.now() + 600_000; !(await caughtUp());) {
      assert.ok(Date.now() < deadline, `processor did not catch up: ${proc.output()}`)
      await sleep(250)
    }
    // every firing of the webhook rule delivered (the last processor delivers what is left)
    for (const deadline = Date.now() + 60_000; ;) {
      const [left] = await db.query<{ n: string }>(
        'select count(*)::text as n from alert_deliveries where delivered_at is null',
      )
      if (left!.n === '0') break
      assert.ok(Date.now() < deadline, `${left!.n} deliveries left: ${proc.output()}`)
      await sleep(250)
    }
    proc.child.kill('SIGTERM')
    assert.equal((await proc.exited).code, 0, proc.output())

    const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
    assert.equal(dead!.n, '0')
    const stored = await db.query<{ rule_id: string; trade_id: string; id: string }>(
      `select f.rule_id::text, t.trade_id, f.id from alert_firings f
       join ticks t on t.kafka_partition = split_part(f.event, '/', 2)::int
                   and t.ingest_seq = split_part(f.event, '/', 3)::bigint`,
    )
    const [all] = await db.query<{ n: string }>('select count(*)::text as n from alert_firings')
    assert.equal(Number(all!.n), stored.length)
    const got = stored.map((r) => `${r.rule_id} ${r.trade_id}`)
    assert.equal(new Set(got).size, got.length, 'a firing stored twice')
    assert.deepEqual(got.sort(), [...expected].sort())

    const hooked = new Set(stored.filter((r) => r.rule_id === rules[0]!.id).map((r) => r.id))
    assert.ok(hooked.size > 0)
    assert.deepEqual(
      new Set(received),
      hooked,
      'each webhook firing delivered at least once, and nothing else',
    )
    assert.ok(midStream >= KILLS - 1, `only ${midStream} kills landed before the processor caught up`)
    t.diagnostic(
      `${expected.size} firings (${hooked.size} by webhook: ${received.length} deliveries, ${requests} requests)`,
    )
  },
)
