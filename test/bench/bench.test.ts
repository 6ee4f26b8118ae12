// The benchmark harness itself, small: `tickflow bench` against the test broker and PostgreSQL
// must run every stage and write a result file whose figures are measured (positive, consistent
// with each other) and whose ratios and target verdicts follow from those figures. The figures in
// docs/benchmarks.md come from the full-size run of this same harness.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../support/cli.ts'
import { testBrokers } from '../support/topics.ts'

interface Results {
  limits: Record<string, number>
  pipeline: {
    trades: number
    tradesPerSec: number
    seconds: number
    bars: number
    processorPeakRssBytes: number
  }
  latency: {
    samples: number
    p50Ms: number
    p99Ms: number
    p999Ms: number
    maxMs: number
    offeredPerSec: number
  }
  naive: { messages: number; msgsPerSec: number }
  ratios: Record<string, number>
  targets: Record<string, boolean>
}

test('tickflow bench measures every stage and derives its ratios and verdicts from the figures', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-bench-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'results.json')
  const trades = 30_000
  const run = await runCli(
    [
      'bench',
      '--trades',
      String(trades),
      '--rate',
      '2000',
      '--latency-seconds',
      '4',
      '--naive-seconds',
      '2',
      '--out',
      out,
    ],
    {
      KAFKA_BROKERS: testBrokers().join(','),
      DATABASE_URL: process.env.TICKFLOW_TEST_PG_ADMIN_URL ?? '',
    },
  )
  assert.equal(run.code, 0, run.output)
  const r = JSON.parse(readFileSync(out, 'utf8')) as Results
  for (const [k, v] of Object.entries(r.limits)) assert.ok(Number.isFinite(v) && v > 0, `limits.${k} = ${v}`)
  assert.equal(r.pipeline.trades, trades)
  assert.ok(r.pipeline.seconds > 0 && r.pipeline.bars > 0 && r.pipeline.processorPeakRssBytes > 0)
  assert.ok(Math.abs(r.pipeline.tradesPerSec - trades / r.pipeline.seconds) < 1e-6)
  assert.equal(r.latency.offeredPerSec, 2000)
  assert.ok(r.latency.samples > 1000, `latency samples: ${r.latency.samples}`)
  assert.ok(r.latency.p50Ms <= r.latency.p99Ms && r.latency.p99Ms <= r.latency.p999Ms)
  assert.ok(r.latency.p999Ms <= r.latency.maxMs)
  assert.ok(r.naive.messages > 0 && r.naive.msgsPerSec > 0)
  const wall = Math.min(r.limits.kafkaConsumeMsgsPerSec!, r.limits.postgresCopyRowsPerSec!)
  const close = (a: number | undefined, b: number): boolean => Math.abs(a! - b) <= 1e-9 * Math.abs(b)
  assert.ok(close(r.ratios.pipelineVsMinLimit, r.pipeline.tradesPerSec / wall))
  assert.ok(close(r.ratios.pipelineVsNaive, r.pipeline.tradesPerSec / r.naive.msgsPerSec))
  assert.ok(
    close(r.ratios.pipelineVsKafkaConsume, r.pipeline.tradesPerSec / r.limits.kafkaConsumeMsgsPerSec!),
  )
  assert.ok(close(r.ratios.pipelineVsCopy, r.pipeline.tradesPerSec / r.limits.postgresCopyRowsPerSec!))
  assert.deepEqual(r.targets, {
    throughputAtLeastHalfOfMinLimit: r.pipeline.tradesPerSec >= 0.5 * wall,
    atLeast30xNaive: r.pipeline.tradesPerSec >= 30 * r.naive.msgsPerSec,
    p99Under250ms: r.latency.p99Ms < 250,
    processorUnder300MB: r.pipeline.processorPeakRssBytes < 300 * 2 ** 20,
  })
  // The printed table carries the same figures.
  assert.match(run.output, new RegExp(`tickflow pipeline, ${trades.toLocaleString('en')} trades`))
  assert.match(run.output, /^targets: /m)
})
