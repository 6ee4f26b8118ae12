// The benchmark's CPU accounting (bench/cpu.ts) on real processes: a consumer's CPU counts its
// descendants, PostgreSQL's backends count as PostgreSQL, and no side exceeds the machine.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import pg from 'pg'
import { CpuTimeline, cpuSnapshot, cpuUse } from '../../bench/cpu.ts'

/** A shell whose child (a node process, a grandchild of this one) spins for `ms` of CPU, then exits. */
function spinningGrandchild(ms: number) {
  const spin = `const end = process.cpuUsage().user + ${ms * 1000}; while (process.cpuUsage().user < end);`
  return spawn('sh', ['-c', `"${process.execPath}" -e '${spin}'; true`], { stdio: 'ignore' })
}

test("a consumer's CPU includes its descendants; others' is not counted as the consumer's", async () => {
  const shell = spinningGrandchild(600)
  // A sibling that only sleeps: followed as a consumer, it must not be charged the spinning node.
  const sleeper = spawn('sleep', ['5'], { stdio: 'ignore' })
  const pids = [shell.pid!]
  const before = cpuSnapshot(pids)
  const sleeperBefore = cpuSnapshot([sleeper.pid!])
  // Read while the grandchild still runs: its CPU is counted before it exits.
  await new Promise((r) => setTimeout(r, 400))
  const during = cpuSnapshot(pids)
  const sleeperDuring = cpuSnapshot([sleeper.pid!])
  sleeper.kill()
  await once(shell, 'exit')
  const used = cpuUse(before, during, 1000)
  assert.ok(used.consumerSeconds >= 0.2, `consumer ${used.consumerSeconds} s`)
  assert.ok(used.consumerSeconds <= used.machineBusySeconds + 0.02, JSON.stringify(used))
  assert.equal(used.consumerMicrosPerTrade, used.consumerSeconds * 1000)
  assert.ok(cpuUse(sleeperBefore, sleeperDuring, 1).consumerSeconds < 0.05)
})

test("PostgreSQL's CPU is its backends'; a window is cut from the timeline by its rows' times", async () => {
  const client = new pg.Client({ connectionString: process.env.TICKFLOW_TEST_PG_ADMIN_URL })
  await client.connect()
  const timeline = new CpuTimeline(() => [], 20)
  try {
    await new Promise((r) => setTimeout(r, 100))
    const from = Date.now()
    // About a second of a backend's CPU inside the window, and as much again after it.
    const spin = 'select count(*) from generate_series(1, 5000000) g where g % 7 = 3'
    await client.query(spin)
    const to = Date.now()
    await client.query(spin)
    const used = timeline.window(from, to, 2)
    const whole = timeline.window(from, Date.now(), 2)
    assert.ok(used && whole)
    assert.ok(used.postgresSeconds >= 0.2, `postgres ${used.postgresSeconds} s`)
    assert.ok(whole.postgresSeconds >= used.postgresSeconds + 0.2, `${whole.postgresSeconds} s in all`)
    assert.equal(used.consumerSeconds, 0)
    assert.ok(used.postgresSeconds <= used.machineBusySeconds + 0.02, JSON.stringify(used))
    assert.equal(used.postgresMicrosPerTrade, (used.postgresSeconds * 1e6) / 2)
  } finally {
    timeline.stop()
    await client.end()
  }
})

test('a window that opens before the timeline began has no figures', () => {
  const timeline = new CpuTimeline(() => [process.pid])
  timeline.stop()
  assert.equal(timeline.window(Date.now() - 1000, Date.now(), 1), undefined)
})
