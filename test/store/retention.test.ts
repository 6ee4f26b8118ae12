// Retention: `tickflow purge --before` and the TICKFLOW_RETAIN_* settings drop whole partitions of
// ticks, delete the rest row by row, take the trade ids of purged ticks with them (so the dedupe
// window is what is kept), and purge bars, dead letters and alert firings (never one whose webhook
// is not yet delivered); the live poller's query is a bounded index scan however many ticks the
// table holds.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connectPostgres, openPglite, type Db } from '../../src/store/db.ts'
import { cutoffsBefore, cutoffsFromSettings, purge } from '../../src/store/retention.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { createRule } from '../../src/store/alerts.ts'
import { BARS_SINCE, TRADES_SINCE } from '../../src/api/poller.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { runCli, startCli } from '../support/cli.ts'
import { tradeItem } from '../support/trades.ts'
import { root } from '../support/kafka.ts'

async function setup(t: TestContext): Promise<{ db: Db; env: Record<string, string> }> {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  return { db, env: { DATABASE_URL: database.url } }
}

async function counts(db: Db) {
  const one = async (sql: string): Promise<number> => Number((await db.query<{ n: string }>(sql))[0]!.n)
  const bars = await db.query<{ interval: string; n: string }>(
    'select interval, count(*)::text as n from bars group by 1 order by 1',
  )
  return {
    ticks: await one('select count(*)::text as n from ticks'),
    tradeIds: await one('select count(*)::text as n from trade_ids'),
    // Every trade id belongs to a stored tick and every tick with an id has its trade id.
    orphanIds: await one(
      'select count(*)::text as n from trade_ids t where not exists (select 1 from ticks k where k.source = t.source and k.trade_id = t.trade_id)',
    ),
    missingIds: await one(
      'select count(*)::text as n from ticks k where k.trade_id is not null and not exists (select 1 from trade_ids t where k.source = t.source and k.trade_id = t.trade_id)',
    ),
    bars: Object.fromEntries(bars.map((b) => [b.interval, Number(b.n)])),
    deadLetters: await one('select count(*)::text as n from dead_letters'),
  }
}

/** "Node Type on relation" for every node of an EXPLAIN (FORMAT JSON) plan. */
function scans(plan: unknown): string[] {
  const out: string[] = []
  const walk = (n: Record<string, unknown>): void => {
    if (typeof n['Relation Name'] === 'string') out.push(`${String(n['Node Type'])} on ${n['Relation Name']}`)
    for (const c of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(c)
  }
  for (const p of plan as { Plan: Record<string, unknown> }[]) walk(p.Plan)
  return out
}

const partitionNames = async (db: Db): Promise<string[]> =>
  (await db.query<{ name: string }>('select name from tickflow_ticks_partitions() order by lo')).map(
    (r) => r.name,
  )

test('tickflow purge --before drops whole partitions, the rest row by row, with their trade ids, bars and dead letters', async (t) => {
  const { db, env } = await setup(t)
  const store = new TickStore(db)
  const items: BatchItem[] = [
    tradeItem(0, { ts: '2019-06-15T10:00:00Z', price: '1', id: 'a1' }),
    tradeItem(1, { ts: '2019-12-31T23:00:00Z', price: '2', id: 'b1' }),
    tradeItem(2, { ts: '2020-06-15T10:00:00Z', price: '3', id: 'c1' }),
    tradeItem(3, { ts: '2020-08-01T10:00:00Z', price: '4', id: 'd1' }),
    tradeItem(4, { ts: '2021-02-01T10:00:00Z', price: '5', id: 'e1' }),
    tradeItem(5, { ts: '2020-03-01T10:00:00Z', price: '6' }),
  ]
  await writeBatch(store, 'g', items)
  for (const [i, at] of ['2020-01-01', '2020-06-30', '2020-07-02'].entries())
    await db.query(
      `insert into dead_letters (received_at, reason, topic, partition, "offset", payload)
       values ($1, 'bad_json', 'ticks', 1, $2, '\\x7b')`,
      [at, i],
    )
  assert.deepEqual(await partitionNames(db), ['ticks_2019', 'ticks_2020', 'ticks_2021'])

  const r = await runCli(['purge', '--before', '2020-07-01T00:00:00Z'], env)
  assert.equal(r.code, 0, r.output)
  assert.match(
    r.output,
    /purged 4 ticks \(1 partitions dropped\), 3 trade ids, bars: 4 1s, 4 1m, 4 5m, 4 1h, 4 1d, 2 dead letters/,
  )
  assert.deepEqual(await partitionNames(db), ['ticks_2020', 'ticks_2021'])
  assert.deepEqual(await counts(db), {
    ticks: 2,
    tradeIds: 2,
    orphanIds: 0,
    missingIds: 0,
    bars: { '1d': 2, '1h': 2, '1m': 2, '1s': 2, '5m': 2 },
    deadLetters: 1,
  })
  const left = await db.query<{ price: string }>('select price::text from ticks order by ts')
  assert.deepEqual(
    left.map((x) => x.price),
    ['4', '5'],
  )

  // The dedupe window is what is kept: a purged trade sent again is stored again (its partition
  // made anew); a kept one is still a duplicate.
  const again = await writeBatch(store, 'g', [
    tradeItem(6, { ts: '2019-06-15T10:00:00Z', price: '1', id: 'a1' }),
    tradeItem(7, { ts: '2020-08-01T10:00:00Z', price: '4', id: 'd1' }),
  ])
  assert.deepEqual(
    again.stored.map((s) => s.tradeId),
    ['a1'],
  )
  assert.deepEqual(
    again.deadLettered.map((d) => d.reason),
    ['duplicate_trade_id'],
  )
})

test('purge --before in the middle of a bar keeps that bar whole: it also sums trades after the cut', async (t) => {
  const { db, env } = await setup(t)
  // Daily bars at midnight in New York: 2020-08-01's runs from 04:00 UTC to 04:00 UTC next day.
  await db.query("update settings set value = 'America/New_York' where key = 'bars_timezone'")
  await writeBatch(new TickStore(db), 'g', [
    tradeItem(0, { ts: '2020-08-01T10:00:10Z', price: '7', id: 'x1' }),
    tradeItem(1, { ts: '2020-08-01T10:00:50Z', price: '8', id: 'x2' }),
    tradeItem(2, { ts: '2020-08-02T02:00:00Z', price: '9', id: 'x3' }),
  ])
  const r = await runCli(['purge', '--before', '2020-08-01T10:00:30Z'], env)
  assert.equal(r.code, 0, r.output)
  // Seen before: every bar holding 10:00:10 went (1m, 5m, 1h and the day), though 10:00:50 and
  // the evening trade are kept and sum into them: bars: 1 1s, 1 1m, 1 5m, 1 1h, 1 1d.
  assert.match(
    r.output,
    /purged 1 ticks \(0 partitions dropped\), 1 trade ids, bars: 1 1s, 0 1m, 0 5m, 0 1h, 0 1d,/,
  )
  const bars = await db.query<{ interval: string; bucket: string; trades: string; close: string }>(
    `select interval, to_char(bucket at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as bucket, trades::text, close::text
     from bars where bucket < '2020-08-01T11:00:00Z' order by interval, bucket`,
  )
  assert.deepEqual(
    bars.map((b) => `${b.interval} ${b.bucket} ${b.trades} ${b.close}`),
    [
      '1d 2020-08-01 04:00:00 3 9',
      '1h 2020-08-01 10:00:00 2 8',
      '1m 2020-08-01 10:00:00 2 8',
      '1s 2020-08-01 10:00:50 1 8',
      '5m 2020-08-01 10:00:00 2 8',
    ],
  )
  // A cut after the day ends takes the day's bar.
  const later = await runCli(['purge', '--before', '2020-08-02T04:00:00Z'], env)
  assert.equal(later.code, 0, later.output)
  assert.match(later.output, /bars: 2 1s, 2 1m, 2 5m, 2 1h, 1 1d,/)
})

test('tickflow purge applies the TICKFLOW_RETAIN_* settings; trade ids can be kept shorter than ticks', async (t) => {
  const { db, env } = await setup(t)
  const store = new TickStore(db)
  const ago = (days: number): string => new Date(Date.now() - days * 86_400_000).toISOString()
  await writeBatch(store, 'g', [
    tradeItem(0, { ts: ago(400), price: '1', id: 'old' }),
    tradeItem(1, { ts: ago(10), price: '2', id: 'recent' }),
  ])
  const r = await runCli(['purge'], {
    ...env,
    TICKFLOW_RETAIN_TICKS: '100d',
    TICKFLOW_RETAIN_TRADE_IDS: '5d',
    TICKFLOW_RETAIN_BARS_1S: '1h',
  })
  assert.equal(r.code, 0, r.output)
  assert.match(r.output, /purged 1 ticks \(\d+ partitions dropped\), 2 trade ids, bars: 2 1s, 0 dead letters/)
  const c = await counts(db)
  assert.deepEqual(
    { ticks: c.ticks, tradeIds: c.tradeIds, bars: c.bars },
    // Bars of the purged tick stay (only 1s bars have a retention here).
    { ticks: 1, tradeIds: 0, bars: { '1d': 2, '1h': 2, '1m': 2, '5m': 2 } },
  )
})

test('tickflow purge removes alert firings before the cut with their delivered webhooks, and keeps undelivered ones until delivered', async (t) => {
  const { db, env } = await setup(t)
  const rule = {
    kind: 'price_cross' as const,
    params: { level: '10' },
    symbols: ['TEST'],
    direction: 'up' as const,
  }
  // a receiver that never answers: its deliveries stay pending (no deliverer runs here anyway)
  const hooked = await createRule(db, { ...rule, name: 'hooked', webhookUrl: 'http://127.0.0.1:9/hook' })
  await createRule(db, { ...rule, name: 'plain', webhookUrl: null })
  // up through 10 three times: at 11 and 12 in 2019, at 11 in 2020 (each rule fires 3 times)
  const prices: [string, string][] = [
    ['2019-05-01T00:00:00Z', '9'],
    ['2019-05-01T00:00:01Z', '11'],
    ['2019-05-01T00:00:02Z', '9'],
    ['2019-05-01T00:00:03Z', '12'],
    ['2020-05-01T00:00:00Z', '9'],
    ['2020-05-01T00:00:01Z', '11'],
  ]
  const r = await writeBatch(
    new TickStore(db),
    'g',
    prices.map(([ts, price], i) => tradeItem(i, { ts, price })),
  )
  assert.equal(r.firings!.length, 6)
  const firings = async (): Promise<{ rule: string; ts: string; delivery: string }[]> =>
    db.query(
      `select r.name as rule, to_char(f.ts at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as ts,
              case when d.firing_id is null then 'none' when d.delivered_at is null then 'pending' else 'delivered' end as delivery
         from alert_firings f join alert_rules r on r.id = f.rule_id left join alert_deliveries d on d.firing_id = f.id
        order by f.ts, r.name`,
    )
  // the first 2019 firing of the hooked rule was delivered, the second was not
  await db.query(
    `update alert_deliveries set delivered_at = now() where firing_id =
       (select id from alert_firings where rule_id = $1 order by ts limit 1)`,
    [hooked.id],
  )
  const first = await runCli(['purge', '--before', '2020-01-01T00:00:00Z'], env)
  assert.equal(first.code, 0, first.output)
  // docs/analytics.md ("Retention" of "Alerts") shows this run
  const doc = readFileSync(join(root, 'docs/analytics.md'), 'utf8')
  const shown = /\$ tickflow purge --before 2020-01-01T00:00:00Z\n(.*)\n/.exec(doc)
  assert.ok(shown, 'docs/analytics.md shows the purge')
  assert.equal(first.output, `${shown[1]}\n`)
  assert.match(first.output, /, 0 dead letters, 3 alert firings \(1 kept: webhook not yet delivered\)\n$/)
  assert.deepEqual(await firings(), [
    { rule: 'hooked', ts: '2019-05-01 00:00:03', delivery: 'pending' },
    { rule: 'hooked', ts: '2020-05-01 00:00:01', delivery: 'pending' },
    { rule: 'plain', ts: '2020-05-01 00:00:01', delivery: 'none' },
  ])
  const deliveries = await db.query<{ n: string }>('select count(*)::text as n from alert_deliveries')
  assert.equal(deliveries[0]!.n, '2')
  // once delivered, the next purge takes it
  await db.query('update alert_deliveries set delivered_at = now()')
  const second = await runCli(['purge', '--before', '2020-01-01T00:00:00Z'], env)
  assert.match(second.output, /, 1 alert firings \(0 kept: webhook not yet delivered\)\n$/)
  assert.deepEqual(
    (await firings()).map((f) => `${f.rule} ${f.ts}`),
    ['hooked 2020-05-01 00:00:01', 'plain 2020-05-01 00:00:01'],
  )
  // The retention settings keep firings as long as ticks.
  const now = Date.parse('2026-01-01T00:00:00Z')
  assert.deepEqual(
    cutoffsFromSettings({ retainTicks: 86_400_000 }, now).alertFirings,
    new Date(now - 86_400_000),
  )
  assert.equal(cutoffsFromSettings({ retainDeadLetters: 1 }, now).alertFirings, undefined)
})

test('bad purge flags and values are one line naming them', async (t) => {
  const { env } = await setup(t)
  const bad = await runCli(['purge', '--before', 'yesterday'], env)
  assert.equal(bad.code, 2)
  assert.equal(
    bad.output,
    'tickflow: invalid --before: "yesterday": expected an ISO-8601 time such as 2024-01-01 or 2024-01-01T00:00:00Z [TF_USAGE]\n',
  )
  const unknown = await runCli(['purge', '--after', '2020-01-01'], env)
  assert.equal(unknown.code, 2)
  assert.match(unknown.output, /^tickflow: unknown option '--after' \[TF_USAGE\]\n$/)
  const setting = await runCli(['purge'], { ...env, TICKFLOW_RETAIN_TICKS: '90 days' })
  assert.equal(setting.code, 2)
  assert.match(
    setting.output,
    /^tickflow: invalid TICKFLOW_RETAIN_TICKS: .*expected a period such as 36h, 90d/,
  )
})

test("the live poller's query reads an index range, not every stored tick", async (t) => {
  const { db } = await setup(t)
  await new TickStore(db).createAhead()
  // 200,000 ticks stored an hour ago, 10 just now.
  await db.query(
    `insert into ticks (symbol, ts, price, size, source, ingest_seq, kafka_partition, stored_at)
     select 'LOAD', now() - interval '1 hour' + i * interval '1 ms', 1, 1, 'test', i, 0,
            case when i <= 10 then now() else now() - interval '1 hour' end
     from generate_series(1, 200000) i`,
  )
  await db.query('analyze ticks')
  const since = new Date(Date.now() - 60_000).toISOString()
  const [plan] = await db.query<{ 'QUERY PLAN': unknown }>(
    `explain (analyze, buffers, format json) ${TRADES_SINCE}`,
    [since],
  )
  const text = JSON.stringify(plan!['QUERY PLAN'])
  const root = (
    plan!['QUERY PLAN'] as { Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }[]
  )[0]!.Plan
  const tickScans = scans(plan!['QUERY PLAN'])
  // Every partition that holds rows is read through an index. A partition the processor made
  // ahead for the coming days is empty (in the last days of a month, the next month's): the
  // planner rightly scans its zero pages.
  const withRows = new Set(
    (await db.query<{ name: string }>('select distinct tableoid::regclass::text as name from ticks')).map(
      (r) => r.name,
    ),
  )
  assert.ok(
    tickScans.some((x) => withRows.has(x.split(' on ')[1]!)),
    tickScans.join(', '),
  )
  assert.ok(
    tickScans.every((x) => x.startsWith('Index') || !withRows.has(x.split(' on ')[1]!)),
    tickScans.join(', '),
  )
  assert.match(text, /stored_at/)
  assert.equal((await db.query(TRADES_SINCE, [since])).length, 10)
  // A sequential scan reads every page of 200,000 rows (well over 1,000); the index a handful.
  const blocks = root['Shared Hit Blocks'] + root['Shared Read Blocks']
  assert.ok(blocks < 200, `${blocks} blocks read`)

  // Bars: 200,000 old 1s bars and the bars of the 10 new ticks; the poll reads the latter by key.
  await db.query(
    `insert into bars (symbol, interval, bucket, open, high, low, close, volume, pv, vwap, trades, open_ts, open_seq, close_ts, close_seq)
     select 'OLD', '1s', timestamptz '2020-01-01' + i * interval '1 s', 1, 1, 1, 1, 1, 1, 1, 1,
            timestamptz '2020-01-01', 0, timestamptz '2020-01-01', 0
     from generate_series(1, 200000) i`,
  )
  await db.query(
    `insert into bars (symbol, interval, bucket, open, high, low, close, volume, pv, vwap, trades, open_ts, open_seq, close_ts, close_seq)
     select 'LOAD', iv, tickflow_bucket(iv, ts, 'UTC'), 1, 1, 1, 1, 1, 1, 1, count(*), min(ts), 0, max(ts), 0
     from ticks cross join unnest(array['1s', '1m', '5m', '1h', '1d']) iv where stored_at >= $1 group by 1, 2, 3`,
    [since],
  )
  await db.query('analyze bars')
  const [barsPlan] = await db.query<{ 'QUERY PLAN': unknown }>(`explain (format json) ${BARS_SINCE}`, [since])
  const barScans = scans(barsPlan!['QUERY PLAN'])
  assert.ok(!barScans.includes('Seq Scan on bars'), barScans.join(', '))
  assert.ok(
    barScans.some((x) => /Index.* on bars/.test(x)),
    barScans.join(', '),
  )
  const expected = await db.query<{ n: string }>("select count(*)::text as n from bars where symbol = 'LOAD'")
  assert.equal((await db.query(BARS_SINCE, [since])).length, Number(expected[0]!.n))
})

test('purge works the same on the embedded store (PGlite)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-pglite-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const db = await openPglite(join(dir, 'pglite')) // where --data-dir DIR keeps it
  t.after(() => db.close())
  await migrate(db)
  const store = new TickStore(db)
  await writeBatch(store, 'g', [
    tradeItem(0, { ts: '2018-05-01T00:00:00Z', price: '1', id: 'x1' }),
    tradeItem(1, { ts: '2019-05-01T00:00:00Z', price: '2', id: 'x2' }),
    tradeItem(2, { ts: '2020-05-01T00:00:00Z', price: '3', id: 'x3' }),
  ])
  const r = await purge(db, cutoffsBefore(new Date('2019-06-01T00:00:00Z')))
  assert.deepEqual(r, {
    partitionsDropped: ['ticks_2018'],
    ticks: 2,
    tradeIds: 2,
    bars: { '1s': 2, '1m': 2, '5m': 2, '1h': 2, '1d': 2 },
    deadLetters: 0,
    alertFirings: 0,
    alertFiringsKept: 0,
  })
  assert.deepEqual(await partitionNames(db), ['ticks_2019', 'ticks_2020'])
  const again = await writeBatch(store, 'g', [
    tradeItem(3, { ts: '2018-05-01T00:00:00Z', price: '1', id: 'x1' }),
  ])
  assert.equal(again.stored.length, 1)
  await db.close()
  // The command takes the common --data-dir like every other (it refused it as an unknown option).
  const r2 = await runCli(['purge', '--before', '2021-01-01', '--data-dir', dir], {
    KAFKA_BROKERS: '',
    DATABASE_URL: '',
  })
  assert.equal(r2.code, 0, r2.output)
  assert.match(r2.output, /^purged 2 ticks \(3 partitions dropped\), 2 trade ids,/m)
})

test('tickflow process applies the retention settings when it starts', async (t) => {
  const { db, env } = await setup(t)
  const ago = (days: number): string => new Date(Date.now() - days * 86_400_000).toISOString()
  await writeBatch(new TickStore(db), 'g', [
    tradeItem(0, { ts: ago(400), price: '1', id: 'p-old' }),
    tradeItem(1, { ts: ago(1), price: '2', id: 'p-new' }),
  ])
  const brokers = process.env.TICKFLOW_TEST_KAFKA_BROKERS
  assert.ok(brokers, 'run through scripts/test.sh')
  const topic = `retention-${Date.now()}`
  const proc = startCli(['process'], {
    ...env,
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: topic,
    KAFKA_PARTITIONS: '1',
    TICKFLOW_RETAIN_TICKS: '30d',
  })
  t.after(() => void proc.child.kill('SIGKILL'))
  const deadline = Date.now() + 60_000
  while ((await counts(db)).ticks !== 1) {
    assert.ok(Date.now() < deadline, `old ticks still there: ${proc.output()}`)
    await sleep(200)
  }
  assert.deepEqual(
    (await db.query<{ price: string }>('select price::text from ticks')).map((r) => r.price),
    ['2'],
  )
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
})
