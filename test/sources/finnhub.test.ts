// The Finnhub adapter against a loopback server speaking Finnhub's WebSocket protocol.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { finnhub, finnhubOptions } from '../../src/sources/finnhub.ts'
import { finnhubTrades, startFinnhubServer } from '../support/providers/finnhub.ts'
import { collect, harness, quick } from '../support/providers/server.ts'

const TOKEN = 'fh-secret-token-123'
const t0 = 1672348887195

/** 40 frames of 1-3 trades: prices whose binary doubles are not what they print as. */
function script(): { frames: string[]; expected: string[] } {
  const frames: string[] = []
  const expected: string[] = []
  // JSON number as sent → the decimal string expected on the wire.
  const prices: [number, string][] = [
    [122.1, '122.1'],
    [189.23, '189.23'],
    [0.0000012, '0.0000012'],
    [61800.3, '61800.3'],
    [3.07, '3.07'],
  ]
  for (let i = 0; i < 40; i++) {
    const batch = []
    for (let j = 0; j <= i % 3; j++) {
      const [p, text] = prices[(i + j) % prices.length]!
      const x = { s: j % 2 ? 'BINANCE:BTCUSDT' : 'AAPL', p, t: t0 + i * 7 + j, v: j === 2 ? 0.25 : 100 + i }
      // Finnhub's own condition numbers, kept under its name.
      const c = j === 0 ? ['1', String(8 + (i % 3))] : []
      batch.push({ ...x, c })
      const conditions = c.map((k) => `finnhub:${k}`).join(',')
      expected.push(`${x.s}|${new Date(x.t).toISOString().replace('Z', '000Z')}|${text}|${x.v}|${conditions}`)
    }
    frames.push(finnhubTrades(batch))
  }
  return { frames, expected }
}

const row = (t: { symbol: string; ts: string; price: string; size: string; conditions?: string[] }): string =>
  `${t.symbol}|${t.ts}|${t.price}|${t.size}|${t.conditions?.join(',') ?? ''}`

test('finnhub: trades with exact prices and event times; a drop mid-stream loses and repeats nothing', async (t) => {
  const { frames, expected } = script()
  const symbols = ['AAPL', 'BINANCE:BTCUSDT']
  const garbage = [
    '{"type":"trade","data":[{"s":"AAPL","p":"1.5","t":1,"v":1}]}',
    '{oops',
    '{"type":"news"}',
    '{"type":"trade","data":[{"s":"AAPL","p":1.5,"t":1672348887195,"v":1,"c":"1"}]}',
  ]
  frames.splice(5, 0, ...garbage)
  const server = await startFinnhubServer({ token: TOKEN, symbols, frames, dropAt: 20 })
  t.after(() => server.close())
  const h = harness()
  const o = finnhubOptions.parse({ symbols, apiKey: TOKEN, baseUrl: server.url, reconnect: quick })
  const source = finnhub.create(o, h.deps)
  const run = await collect(source, h, (got) => got.length >= expected.length)
  assert.equal(run.error, undefined)
  assert.deepEqual(run.trades.map(row), expected)
  assert.deepEqual(run.trades[0], {
    v: 1,
    type: 'trade',
    symbol: 'AAPL',
    ts: '2022-12-29T21:21:27.195000Z',
    price: '122.1',
    size: '100',
    source: 'finnhub',
    conditions: ['finnhub:1', 'finnhub:8'],
  })
  assert.ok(run.trades.some((x) => x.price === '0.0000012'))
  assert.equal(source.stats.malformed, garbage.length)
  assert.equal(source.stats.reconnects, 1)
  // Both connections subscribed to every symbol; the clean stop unsubscribed.
  for (const conn of server.messages)
    assert.deepEqual(
      conn.filter((m) => m.type === 'subscribe').map((m) => m.symbol),
      symbols,
    )
  await new Promise((r) => setTimeout(r, 50))
  assert.deepEqual(
    server.messages[1]!.filter((m) => m.type === 'unsubscribe').map((m) => m.symbol),
    symbols,
  )
  assert.ok(!h.logs.join('\n').includes(TOKEN), 'the token never reaches the logs')
})

test('finnhub: a stream gone silent with the socket open is reconnected by the watchdog', async (t) => {
  const { frames, expected } = script()
  const symbols = ['AAPL', 'BINANCE:BTCUSDT']
  const server = await startFinnhubServer({ token: TOKEN, symbols, frames, dropAt: 10, silent: true })
  t.after(() => server.close())
  const h = harness()
  const o = finnhubOptions.parse({
    symbols,
    apiKey: TOKEN,
    baseUrl: server.url,
    reconnect: quick,
    idleTimeoutMs: 300,
  })
  const source = finnhub.create(o, h.deps)
  const started = Date.now()
  const run = await collect(source, h, (got) => got.length >= expected.length)
  assert.equal(run.error, undefined)
  assert.deepEqual(run.trades.map(row), expected)
  assert.equal(source.stats.reconnects, 1)
  assert.ok(Date.now() - started >= 300, 'reconnected only after the idle timeout')
  assert.match(h.logs.join('\n'), /no data for \d+ ms/)
})

test('finnhub: a rejected token is one fatal error after one connection attempt, and stays secret', async (t) => {
  const server = await startFinnhubServer({ token: TOKEN, symbols: ['AAPL'], frames: [] })
  t.after(() => server.close())
  const h = harness()
  const bad = 'wrong-token-456'
  const o = finnhubOptions.parse({ symbols: ['AAPL'], apiKey: bad, baseUrl: server.url, reconnect: quick })
  const run = await collect(finnhub.create(o, h.deps), h, () => false, 3000)
  assert.equal(run.timedOut, false)
  assert.ok(run.error instanceof Error)
  assert.match(run.error.message, /finnhub: the provider rejected the credentials \(HTTP 401\)/)
  assert.equal((run.error as { code?: string }).code, 'TF_PROVIDER')
  assert.equal((run.error as { service?: string }).service, 'finnhub')
  assert.ok(!run.error.message.includes(bad))
  assert.ok(!h.logs.join('\n').includes(bad))
  assert.equal(server.upgrades, 1)
})
