// The embedded default: `tickflow up` with no KAFKA_BROKERS / DATABASE_URL runs the same processor
// on the in-process bus and PGlite, and is just as exact.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPglite } from '../../src/store/db.ts'
import { simulate } from '../../src/sources/simulator.ts'
import { runCli, startCli } from '../support/cli.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { checkBars } from '../support/bars.ts'
import { root } from '../support/kafka.ts'
import {
  EMBEDDED_COMMANDS,
  EMBEDDED_NODE_FLAGS,
  PROCESSOR_NODE_FLAGS,
  nodeFlagsFor,
  envFor,
} from '../../src/cli/node-flags.ts'

const noServices = { KAFKA_BROKERS: '', DATABASE_URL: '' }

test('tickflow up (embedded) stores every simulated trade exactly once in PGlite', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-up-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const symbols = Array.from({ length: 50 }, (_, i) => `E${i}`)
  const args = [
    'up',
    '--count',
    '60000',
    '--rate',
    '0',
    '--seed',
    '7',
    '--start',
    '2026-11-24T14:30:00Z',
    '--symbols',
    symbols.join(','),
  ]
  const run = await runCli(args, noServices, dir)
  assert.equal(run.code, 0, run.output)
  assert.match(run.output, /60000 trades produced; the store holds 60000 ticks and 0 dead letters \(pglite\)/)

  const expected = new TradeChecksum()
  for (const trade of simulate({
    symbols,
    rate: 0,
    realtime: false,
    count: 60_000,
    seed: 7,
    start: Date.parse('2026-11-24T14:30:00Z'),
  }))
    expected.add(trade)
  const db = await openPglite(join(dir, 'data/pglite'))
  t.after(() => db.close())
  const got = await tableChecksum(db)
  assert.equal(got.count, 60_000)
  assert.equal(got.sum, expected.sum)
  assert.deepEqual(await checkBars(db), {
    bars: (await db.query('select 1 from bars')).length,
    missing: 0,
    extra: 0,
  })

  // A second run appends a new, different set of trades: nothing of the first is re-stored.
  await db.close()
  const again = await runCli(
    [
      'up',
      '--count',
      '1000',
      '--rate',
      '0',
      '--seed',
      '8',
      '--start',
      '2026-11-25T14:30:00Z',
      '--symbols',
      symbols.join(','),
    ],
    noServices,
    dir,
  )
  assert.equal(again.code, 0, again.output)
  const db2 = await openPglite(join(dir, 'data/pglite'))
  t.after(() => db2.close())
  assert.equal((await tableChecksum(db2)).count, 61_000)
})

test('a bad flag or variable stops tickflow with one line naming it', async () => {
  const flag = await runCli(['up', '--rate', 'fast'], noServices)
  assert.equal(flag.code, 2)
  assert.equal(
    flag.output.trim(),
    'tickflow: invalid --rate: "fast" Invalid input: expected number, received NaN [TF_CONFIG]',
  )
  const env = await runCli(['up'], { ...noServices, HTTP_PORT: '70000' })
  assert.equal(env.code, 2)
  assert.equal(
    env.output.trim(),
    'tickflow: invalid HTTP_PORT: "70000" Too big: expected number to be <=65535 [TF_CONFIG]',
  )
  const unknown = await runCli(['up', '--colour'], noServices)
  assert.equal(unknown.code, 2)
  assert.equal(unknown.output.trim(), "tickflow: unknown option '--colour' [TF_USAGE]")
  const key = await runCli(['up', '--source', 'finnhub'], { ...noServices, FINNHUB_API_KEY: '' })
  assert.equal(key.code, 2)
  assert.equal(key.output.trim(), 'tickflow: --source finnhub needs FINNHUB_API_KEY [TF_CONFIG]')
  const secret = await runCli(['doctor'], { ...noServices, DATABASE_URL: 'not a url with password hunter2' })
  assert.equal(secret.code, 2)
  assert.doesNotMatch(secret.output, /hunter2/)
  assert.match(secret.output, /^tickflow: invalid DATABASE_URL: /)
})

test('the ./tickflow launcher starts each command with the Node flags the benchmark measured', () => {
  const launcher = readFileSync(join(root, 'tickflow'), 'utf8')
  // Every arm of its case statement: the commands it names and the flags it gives them.
  const arms = [
    ...launcher.matchAll(
      /^\s*([a-z |]+)\) ((?:[A-Z_]+="\$\{[A-Z_]+:-[^}]*\}" )*)exec node (.*?) "\$TICKFLOW_ROOT\/bin\/tickflow\.js" "\$@" ;;$/gm,
    ),
  ]
  assert.equal(arms.length, 2, 'the processor arm and the embedded commands arm')
  const named: string[] = []
  for (const [, commands, env, flags] of arms)
    for (const command of commands!.split('|').map((c) => c.trim())) {
      named.push(command)
      assert.deepEqual(flags!.split(/\s+/), nodeFlagsFor(command), command)
      // Each variable as `NAME="${NAME:-default}"`: a value the user set wins.
      const given = Object.fromEntries(
        [...env!.matchAll(/([A-Z_]+)="\$\{([A-Z_]+):-([^}]*)\}"/g)].map(([, name, again, value]) => {
          assert.equal(again, name, `${command}: ${name} defaults to itself`)
          return [name!, value!]
        }),
      )
      assert.deepEqual(given, envFor(command), command)
    }
  assert.deepEqual(named.sort(), ['process', ...EMBEDDED_COMMANDS].sort())
  assert.deepEqual(PROCESSOR_NODE_FLAGS, ['--max-old-space-size=192', '--max-semi-space-size=8'])
  assert.deepEqual(EMBEDDED_NODE_FLAGS, ['--max-semi-space-size=8'])
  assert.deepEqual(nodeFlagsFor('bench'), [])
  assert.deepEqual(envFor('process'), { MALLOC_ARENA_MAX: '2' })
  assert.deepEqual(envFor('up'), {})
})

test('LOG_FILE gets JSON lines with the trace of each batch', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'logs/tickflow.log')
  const run = await runCli(
    ['up', '--count', '3000', '--rate', '0', '--seed', '3', '--log-level', 'debug', '--log-file', file],
    noServices,
    dir,
  )
  assert.equal(run.code, 0, run.output)
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  const batches = lines.filter((l) => l.msg === 'batch committed')
  assert.ok(batches.length > 0)
  for (const b of batches) {
    assert.equal(b.topic, 'ticks')
    assert.ok(Array.isArray(b.partitions))
    assert.match(String(b.firstOffset), /^\d+$/)
    assert.match(String(b.lastOffset), /^\d+$/)
    assert.equal(typeof b.ms, 'number')
  }
  assert.equal(
    batches.reduce((a, b) => a + Number(b.rows), 0),
    3000,
  )
  assert.doesNotMatch(run.output, /batch committed/) // nothing on standard output when LOG_FILE is set
})

test('tickflow up stopped by SIGINT mid-run stores what the in-process bus holds; its last line counts the store after exit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-up-int-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const up = startCli(
    ['up', '--count', '3000000', '--rate', '0', '--seed', '3', '--start', '2026-11-24T14:30:00Z'],
    { ...noServices, LOG_LEVEL: 'info' },
    dir,
  )
  t.after(() => up.child.kill('SIGKILL'))
  // Stopped while batches are being written: the first ones are committed by then.
  for (let waited = 0; !/pipeline started/.test(up.output()); waited += 100) {
    assert.ok(waited < 60_000, `the pipeline did not start: ${up.output()}`)
    await sleep(100)
  }
  await sleep(4000)
  up.child.kill('SIGINT')
  const { code } = await up.exited
  assert.equal(code, 0, up.output())
  const said = /(\d+) trades produced; the store holds (\d+) ticks and (\d+) dead letters/.exec(up.output())
  assert.ok(said, up.output())
  const db = await openPglite(join(dir, 'data/pglite'))
  t.after(() => db.close())
  const [row] = await db.query<{ ticks: string; offsets: string }>(
    'select (select count(*) from ticks)::text as ticks, (select sum(next_offset) from consumer_offsets)::text as offsets',
  )
  assert.ok(Number(row!.ticks) > 0)
  assert.equal(said[2], row!.ticks)
  assert.equal(row!.offsets, row!.ticks)
  // Nothing the source sent is left in the in-process bus: every trade produced is stored.
  assert.equal(Number(said[1]), Number(said[2]) + Number(said[3]), up.output())
  assert.match(up.output(), /storing the trades the in-process bus holds before stopping/)
})
