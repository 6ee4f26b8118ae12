// /readyz with a frozen broker: a SIGSTOPped Kafka keeps its sockets open and never answers, so a
// probe without a deadline hangs the request. Each check must fail within its deadline and name
// the dependency; after SIGCONT the process is ready again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../../src/api/app.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { startCli } from '../support/cli.ts'
import { ownServices } from '../support/scenario.ts'
import { startThrowawayCluster } from '../support/postgres.ts'

const HTTP_PORT = 23510

interface ReadyBody {
  status: string
  checks: Record<string, string>
}

async function readyz(): Promise<{ status: number; body: ReadyBody; ms: number }> {
  const started = Date.now()
  // The client's own limit is far above the 2 s deadline: it only keeps a regression from hanging.
  const res = await fetch(`http://127.0.0.1:${HTTP_PORT}/readyz`, { signal: AbortSignal.timeout(60_000) })
  return { status: res.status, body: (await res.json()) as ReadyBody, ms: Date.now() - started }
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

test('/readyz answers within its deadline and names kafka while the broker is frozen (SIGSTOP)', async (t) => {
  const { kafka, env } = await ownServices(t, 'readyz', [
    { nodeId: 1, port: 23500, controllerPort: 23501, jmxPort: 23502 },
  ])
  const proc = startCli(['process'], { ...env, HTTP_PORT: String(HTTP_PORT) })
  t.after(() => void proc.child.kill('SIGKILL'))
  const first = await until(
    'the processor to be ready',
    async () => {
      const r = await readyz()
      return r.status === 200 ? r : undefined
    },
    60_000,
  )
  assert.deepEqual(first.body, { status: 'ok', checks: { database: 'ok', kafka: 'ok' } })

  const pid = kafka.nodes[0]!.pid()!
  process.kill(pid, 'SIGSTOP')
  let continued = false
  const resume = (): void => {
    if (!continued) process.kill(pid, 'SIGCONT')
    continued = true
  }
  t.after(resume)
  try {
    // Twice: the second request joins the probe still hanging from the first instead of adding one.
    for (let i = 0; i < 2; i++) {
      const r = await readyz()
      assert.equal(r.status, 503, JSON.stringify(r.body))
      assert.equal(r.body.status, 'unavailable')
      assert.equal(r.body.checks.database, 'ok')
      assert.equal(r.body.checks.kafka, 'kafka: no answer within 2000 ms')
      // Generous bound (deadline 2 s): it answers in seconds, not never.
      assert.ok(r.ms < 10_000, `readyz took ${r.ms} ms`)
    }
  } finally {
    resume()
  }
  const again = await until(
    'readiness after SIGCONT',
    async () => {
      const r = await readyz()
      return r.status === 200 ? r : undefined
    },
    60_000,
  )
  assert.deepEqual(again.body.checks, { database: 'ok', kafka: 'ok' })
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
})

test('/readyz names the database when PostgreSQL is frozen (SIGSTOP), and recovers after SIGCONT', async (t) => {
  const cluster = startThrowawayCluster(23520)
  // Registered first so it runs first (after hooks run in order): a frozen server cannot stop.
  let frozen: number[] = []
  const resume = (): void => {
    for (const pid of frozen) process.kill(pid, 'SIGCONT')
    frozen = []
  }
  t.after(resume)
  t.after(() => cluster.stop())
  const db = connectPostgres(cluster.adminUrl)
  t.after(() => db.close())
  const app = await buildApp({
    metrics: createMetrics({ defaultMetrics: false }),
    readiness: { database: async () => void (await db.query('select 1')) },
  })
  t.after(() => app.close())
  assert.equal((await app.inject('/readyz')).statusCode, 200)
  // The postmaster and every backend: a frozen server, sockets open, nothing answering.
  const postmaster = Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  const children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map(Number)
  frozen = [postmaster, ...children]
  for (const pid of frozen) process.kill(pid, 'SIGSTOP')
  try {
    const started = Date.now()
    const r = await app.inject('/readyz')
    assert.equal(r.statusCode, 503)
    assert.deepEqual(r.json(), {
      status: 'unavailable',
      checks: { database: 'database: no answer within 2000 ms' },
    })
    assert.ok(Date.now() - started < 10_000, `readyz took ${Date.now() - started} ms`)
  } finally {
    resume()
  }
  await until(
    'readiness after SIGCONT',
    async () => ((await app.inject('/readyz')).statusCode === 200 ? true : undefined),
    60_000,
  )
})
