// The API load harness, short: while `tickflow up` ingests, autocannon queries bars on loopback;
// every query answers with real bars before the load starts, and the load sees no error and no
// non-2xx answer. docs/benchmarks.md reports the full-length run of the same harness.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root } from '../support/kafka.ts'

test('bars queries under load while ingesting: real data, no errors, a measured rate and p99', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-api-load-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'api.json')
  const child = spawn(
    process.execPath,
    [join(root, 'bench/api-load.ts'), '--seconds', '3', '--warmup', '4', '--out', out],
    {
      env: { ...process.env, DATABASE_URL: process.env.TICKFLOW_TEST_PG_ADMIN_URL ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const code = await new Promise<number | null>((r) => child.on('exit', r))
  assert.equal(code, 0, output)
  const r = JSON.parse(readFileSync(out, 'utf8')) as {
    requests: number
    requestsPerSec: number
    barsPerResponse: number
    latencyMs: { p50: number; p99: number; max: number }
    non2xx: number
    errors: number
  }
  assert.equal(r.errors, 0)
  assert.equal(r.non2xx, 0)
  assert.ok(r.requests > 100, `only ${r.requests} requests in 3 s`)
  assert.ok(r.barsPerResponse >= 1)
  assert.ok(r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max)
  assert.match(output, /bars queries: \d+ req\/s, p50 [\d.]+ ms, p99 [\d.]+ ms/)
})
