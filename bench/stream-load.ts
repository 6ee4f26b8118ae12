// Stream fan-out load: while `tickflow up` ingests 500 trades/s into PostgreSQL (in-process bus),
// 500 WebSocket stream clients connect and never read; autocannon measures the REST API meanwhile
// and the server's RSS is sampled. Targets: REST p99 < 200 ms, RSS < 400 MB, every slow client
// dropped. Bounded: 500 clients, 10 REST connections, --seconds of load, 127.0.0.1 only.
// Usage: node bench/stream-load.ts [--clients 500] [--seconds 30] [--out bench/results/stream-latest.json]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import WebSocket from 'ws'
import { root } from '../test/support/kafka.ts'
import { findPostgres, createTestDatabase } from '../test/support/postgres.ts'
import { startCli } from '../test/support/cli.ts'

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '30' },
    out: { type: 'string', default: 'bench/results/stream-latest.json' },
  },
})
const clients = Number(args.clients)
const seconds = Number(args.seconds)
if (!(clients >= 1 && clients <= 2000) || !(seconds >= 5 && seconds <= 300)) {
  process.stderr.write('stream-load: --clients must be 1–2000 and --seconds 5–300\n')
  process.exit(2)
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Math.round(Number(m[1]) / 1024) : NaN
}

/** Opens a stream client that reads nothing after the upgrade; resolves its close code later. */
async function stalled(url: string): Promise<{ ws: WebSocket; socket: Socket; code: Promise<number> }> {
  const ws = new WebSocket(url)
  const code = once(ws, 'close').then(([c]) => c as number)
  ws.on('error', () => {})
  await once(ws, 'open')
  const socket = (ws as unknown as { _socket: Socket })._socket
  socket.pause()
  return { ws, socket, code }
}

const postgres = await findPostgres()
const database = await createTestDatabase(postgres.adminUrl)
const dir = mkdtempSync(join(tmpdir(), 'tickflow-stream-load-'))
const symbols = Array.from({ length: 20 }, (_, i) => `S${i}`)
const up = startCli(
  ['up', '--port', '0', '--rate', '500', '--duration', `${seconds + 60}s`, '--symbols', symbols.join(',')],
  { KAFKA_BROKERS: '', DATABASE_URL: database.url, LOG_LEVEL: 'info' },
  dir,
)
const samples: number[] = []
try {
  let address = ''
  for (const deadline = Date.now() + 30_000; !address; await sleep(100)) {
    address = /dashboard (http:\/\/[^/\s]+)/.exec(up.output())?.[1] ?? ''
    if (Date.now() > deadline) throw new Error(`tickflow up did not start: ${up.output()}`)
  }
  await sleep(5000) // trades and bars exist before the load starts
  const pid = up.child.pid!
  const rssBefore = rssMb(pid)
  const sampler = setInterval(() => samples.push(rssMb(pid)), 250)
  const url = `${address.replace('http', 'ws')}/api/v1/stream`
  const slow = []
  for (let i = 0; i < clients; i += 50)
    slow.push(...(await Promise.all(Array.from({ length: Math.min(50, clients - i) }, () => stalled(url)))))
  process.stderr.write(
    `stream-load: ${clients} non-reading clients; ${seconds} s of REST while ingesting 500 trades/s\n`,
  )
  const result = await autocannon({
    url: address,
    connections: 10,
    duration: seconds,
    requests: symbols.map((s) => ({ method: 'GET', path: `/api/v1/trades?symbol=${s}&limit=100` })),
  })
  const rssPeak = Math.max(...samples)
  // The slow clients read again: each finds how the server ended its connection.
  for (const s of slow) s.socket.resume()
  const codes = await Promise.race([
    Promise.all(slow.map((s) => s.code)),
    sleep(30_000).then(() => [] as number[]),
  ])
  for (const s of slow) s.ws.terminate()
  await sleep(3000)
  clearInterval(sampler)
  const closed: Record<string, number> = {}
  for (const c of codes) closed[c] = (closed[c] ?? 0) + 1
  const out = {
    when: new Date().toISOString(),
    ingestingTradesPerSec: 500,
    slowClients: clients,
    restEndpoint: 'GET /api/v1/trades (limit 100, 20 symbols)',
    restConnections: 10,
    seconds,
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
    rssMb: { before: rssBefore, peak: rssPeak, afterClientsLeft: rssMb(pid) },
    slowClientCloseCodes: closed,
    targets: { restP99Ms: 200, rssMb: 400 },
    pass:
      result.latency.p99 < 200 && rssPeak < 400 && (closed['4000'] ?? 0) + (closed['1006'] ?? 0) === clients,
  }
  const file = resolve(root, args.out)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`)
  process.stdout.write(
    `REST p50 ${out.latencyMs.p50} ms, p99 ${out.latencyMs.p99} ms, max ${out.latencyMs.max} ms, ${Math.round(out.requestsPerSec)} req/s, non-2xx ${out.non2xx}; ` +
      `RSS ${rssBefore} → peak ${rssPeak} → ${out.rssMb.afterClientsLeft} MB; slow clients closed ${JSON.stringify(closed)}; ${out.pass ? 'PASS' : 'FAIL'}\n`,
  )
} finally {
  up.child.kill('SIGTERM')
  await up.exited
  await database.drop()
  await postgres.stop()
  rmSync(dir, { recursive: true, force: true })
}
