// The live stream under load: non-reading clients while trades stream at 500/s. Functional facts
// only (the timing targets are in bench/stream-load.ts): every slow client is dropped with close
// code 4000, every reading client gets every message in order, and dropped connections are cut.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { buildApp } from '../../src/api/app.ts'
import { LiveHub, type LiveEvent, type StreamLimits } from '../../src/api/live.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { createTestDatabase } from '../support/postgres.ts'

async function serve(t: TestContext, limits: Partial<StreamLimits>) {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const hub = new LiveHub(limits)
  const app = await buildApp({ metrics: createMetrics({ defaultMetrics: false }), db, hub })
  t.after(() => app.close())
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, hub, url: `${address.replace('http', 'ws')}/api/v1/stream` }
}

function trades(from: number, n: number): LiveEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'trade',
    data: {
      symbol: 'AAPL',
      ts: new Date(Date.UTC(2026, 10, 24, 15) + from + i).toISOString(),
      price: '190.00',
      size: String(from + i),
      source: 'load',
    },
  }))
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** A client that reads nothing once open: its socket is paused, like a stalled browser tab. */
async function stalled(url: string): Promise<{ ws: WebSocket; socket: Socket; code: Promise<number> }> {
  const ws = new WebSocket(url)
  const code = once(ws, 'close').then(([c]) => c as number)
  await once(ws, 'open')
  const socket = (ws as unknown as { _socket: Socket })._socket
  socket.pause()
  return { ws, socket, code }
}

const SLOW = 200
const FAST = 5
const TOTAL = 4000

test(`${SLOW} non-reading clients and ${FAST} readers at 500 trades/s: slow ones closed with 4000, readers get every trade`, async (t) => {
  // A long grace so the stalled clients, resumed after the drop, read up to the close frame.
  const { hub, url } = await serve(t, { closeGraceMs: 120_000 })
  const fast = await Promise.all(
    Array.from({ length: FAST }, async () => {
      const ws = new WebSocket(`${url}?symbols=AAPL`)
      const sizes: number[] = []
      ws.on('message', (m: Buffer, binary: boolean) => {
        assert.equal(binary, false)
        const msg = JSON.parse(m.toString()) as { type: string; data: { size: string } }
        if (msg.type === 'trade') sizes.push(Number(msg.data.size))
      })
      await once(ws, 'open')
      return { ws, sizes }
    }),
  )
  const slow = await Promise.all(Array.from({ length: SLOW }, () => stalled(url)))
  t.after(() => [...fast, ...slow].forEach((c) => c.ws.terminate()))
  const stalledAt = Date.now()
  const dropped = (): number => hub.dropped.buffer + hub.dropped.unresponsive
  // 500 trades/s in batches of 50 every 100 ms, as the processor publishes commits.
  for (let sent = 0; sent < TOTAL; sent += 50) {
    hub.publish(trades(sent, 50))
    await sleep(100)
  }
  await until('every slow client to be dropped', () => hub.size === FAST, 60_000)
  const tookMs = Date.now() - stalledAt
  // Generous: the limit is a 5 s pong timeout; before, slow clients went after about 100 s.
  assert.ok(tookMs < 30_000, `slow clients dropped after ${tookMs} ms`)
  assert.equal(dropped(), SLOW)
  for (const s of slow) s.socket.resume()
  const codes = await Promise.all(slow.map((s) => s.code))
  assert.deepEqual(new Set(codes), new Set([4000]))
  await until('readers to get every trade', () => fast.every((f) => f.sizes.length === TOTAL), 60_000)
  const expected = Array.from({ length: TOTAL }, (_, i) => i)
  for (const f of fast) assert.deepEqual(f.sizes, expected)
  t.diagnostic(`${SLOW} slow clients dropped ${tookMs} ms after they stopped reading`)
})

test('a dropped client that never reads again has its connection cut after the grace period', async (t) => {
  const { app, hub, url } = await serve(t, { closeGraceMs: 500 })
  const slow = await Promise.all(Array.from({ length: 10 }, () => stalled(url)))
  t.after(() => slow.forEach((c) => c.ws.terminate()))
  const server = app.websocketServer as { clients: Set<unknown> }
  assert.equal(server.clients.size, 10)
  for (let sent = 0; server.clients.size > 0; sent += 50) {
    assert.ok(sent < 500 * 60, 'connections still open after a minute of trades')
    hub.publish(trades(sent, 50))
    await sleep(100)
  }
  assert.equal(hub.dropped.unresponsive + hub.dropped.buffer, 10)
  assert.equal(hub.size, 0)
})
