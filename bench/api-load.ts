// API load test: while `tickflow up` ingests 2,000 trades/s (`--rate N`) into PostgreSQL (in-process bus, real
// PostgreSQL), autocannon hammers GET /api/v1/bars for a fixed time on loopback and records the
// request rate and the latency distribution. Bounded: 10 connections, 15 s, 127.0.0.1 only.
// Usage: node bench/api-load.ts [--seconds 15] [--warmup 10] [--rate 2000]
//        [--out bench/results/api-latest.json]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { root } from '../test/support/kafka.ts'
import { findPostgres, createTestDatabase } from '../test/support/postgres.ts'
import { startCli } from '../test/support/cli.ts'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    out: { type: 'string', default: 'bench/results/api-latest.json' },
  },
})
const seconds = Number(args.seconds)
const warmup = Number(args.warmup)
const rate = Number(args.rate)
if (!(seconds >= 1 && seconds <= 300) || !(warmup >= 1 && warmup <= 300)) {
  process.stderr.write('api-load: --seconds and --warmup must be between 1 and 300\n')
  process.exit(2)
}
if (!Number.isInteger(rate) || rate < 1 || rate > 100_000) {
  process.stderr.write('api-load: --rate must be a whole number of trades/s from 1 to 100000\n')
  process.exit(2)
}
const postgres = await findPostgres()
const database = await createTestDatabase(postgres.adminUrl)
const dir = mkdtempSync(join(tmpdir(), 'tickflow-api-load-'))
const symbols = Array.from({ length: 20 }, (_, i) => `L${i}`)
const up = startCli(
  ['up', '--port', '0', '--rate', String(rate), '--duration', '60s', '--symbols', symbols.join(',')],
  { KAFKA_BROKERS: '', DATABASE_URL: database.url, LOG_LEVEL: 'info' },
  dir,
)
try {
  let address = ''
  for (const deadline = Date.now() + 30_000; !address; await sleep(100)) {
    address = /dashboard (http:\/\/[^/\s]+)/.exec(up.output())?.[1] ?? ''
    if (Date.now() > deadline) throw new Error(`tickflow up did not start: ${up.output()}`)
  }
  await sleep(warmup * 1000) // seconds of trades: bars exist for every interval
  const paths = symbols.map(
    (s, i) => `/api/v1/bars?symbol=${s}&interval=${['1s', '1m', '5m'][i % 3]}&limit=500`,
  )
  // The load is on real data: every query answers 200 with bars before it starts.
  let barsPerResponse = 0
  for (const path of paths) {
    const res = await fetch(new URL(path, address))
    const body = (await res.json()) as { data?: unknown[] }
    if (res.status !== 200 || !body.data?.length)
      throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`)
    barsPerResponse += body.data.length / paths.length
  }
  process.stderr.write(
    `api-load: ${seconds} s of GET /api/v1/bars, 10 connections, while ingesting ${rate} trades/s\n`,
  )
  const result = await autocannon({
    url: address,
    connections: 10,
    duration: seconds,
    requests: paths.map((path) => ({ method: 'GET', path })),
  })
  const out = {
    when: new Date().toISOString(),
    endpoint: 'GET /api/v1/bars (limit 500, 20 symbols, intervals 1s/1m/5m)',
    ingestingTradesPerSec: rate,
    connections: 10,
    seconds,
    barsPerResponse,
    requests: result.requests.total,
    requestsPerSec: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    non2xx: result.non2xx,
    errors: result.errors,
  }
  const file = resolve(root, args.out)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`)
  process.stdout.write(
    `bars queries: ${Math.round(out.requestsPerSec)} req/s, p50 ${out.latencyMs.p50} ms, p99 ${out.latencyMs.p99} ms, max ${out.latencyMs.max} ms, non-2xx ${out.non2xx}, errors ${out.errors}\n`,
  )
} finally {
  up.child.kill('SIGTERM')
  await up.exited
  await database.drop()
  await postgres.stop()
  rmSync(dir, { recursive: true, force: true })
}
