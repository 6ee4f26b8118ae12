// The Polygon adapter against a loopback server speaking the stocks WebSocket protocol.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { polygon, polygonOptions } from '../../src/sources/polygon.ts'
import { startPolygonServer } from '../support/providers/polygon.ts'
import { collect, harness, quick } from '../support/providers/server.ts'

const KEY = 'polygon-key-secret-42'
const t0 = 1536036818784

/** 25 frames: two trades (MSFT, AAPL), a quote and a minute bar each. */
function script(): { frames: string[]; expected: string[] } {
  const frames: string[] = []
  const expected: string[] = []
  const prices: [number, string][] = [
    [114.125, '114.125'],
    [189.23, '189.23'],
    [0.0035, '0.0035'],
  ]
  for (let i = 0; i < 25; i++) {
    const msgs: unknown[] = []
    for (const [j, sym] of ['MSFT', 'AAPL'].entries()) {
      const [p, text] = prices[(i + j) % prices.length]!
      const t = t0 + i * 13 + j
      msgs.push({
        ev: 'T',
        sym,
        x: 4 + j,
        i: String(12345 + i),
        // Polygon's ids, read by the tape's plan: 8 (closing prints) has no CTA code.
        z: j ? 1 : 3,
        p,
        s: 100 * (j + 1),
        c: j ? [2, 37, 3, 8] : [0, 12, 2],
        t,
        q: 3681328 + i,
      })
      expected.push(
        `${sym}|${new Date(t).toISOString().replace('Z', '000Z')}|${text}|${100 * (j + 1)}|${sym}:${4 + j}:2018-09-04:${12345 + i}|${j ? 'CTA:B,CTA:I,CTA:E,polygon:8' : 'UTP:@,UTP:T,UTP:W'}`,
      )
    }
    msgs.push({
      ev: 'Q',
      sym: 'MSFT',
      bx: 4,
      bp: 114.12,
      bs: 1,
      ax: 7,
      ap: 114.13,
      as: 2,
      c: 0,
      t: t0 + i * 13,
      z: 3,
      q: 1,
    })
    msgs.push({
      ev: 'AM',
      sym: 'MSFT',
      v: 1000,
      av: 50000,
      op: 113,
      vw: 114.1,
      o: 114,
      c: 114.2,
      h: 114.3,
      l: 113.9,
      a: 114,
      z: 10,
      s: t0,
      e: t0 + 60000,
    })
    frames.push(JSON.stringify(msgs))
  }
  return { frames, expected }
}

const row = (t: {
  symbol: string
  ts: string
  price: string
  size: string
  id?: string
  conditions?: string[]
}): string => `${t.symbol}|${t.ts}|${t.price}|${t.size}|${t.id}|${t.conditions?.join(',')}`

test('polygon: auth, subscribe, exact trades; a drop mid-stream resubscribes and repeats nothing', async (t) => {
  const { frames, expected } = script()
  const garbage = [
    '[{"ev":"T","sym":"MSFT"}]',
    '{"ev":"T"}',
    '[{"ev":"XQ"}]',
    '[{',
    '[{"ev":"T","sym":"MSFT","x":4,"i":"9","z":3,"p":1.5,"s":1,"c":[1.5],"t":1536036818784}]',
  ]
  frames.splice(2, 0, ...garbage)
  const server = await startPolygonServer({ key: KEY, frames, dropAt: 15, overlap: 2 })
  t.after(() => server.close())
  const h = harness()
  const o = polygonOptions.parse({
    symbols: ['MSFT', 'AAPL'],
    apiKey: KEY,
    baseUrl: `${server.url}/stocks`,
    quotes: true,
    bars: true,
    reconnect: quick,
  })
  const source = polygon.create(o, h.deps)
  const run = await collect(source, h, (got) => got.length >= expected.length)
  assert.equal(run.error, undefined)
  assert.deepEqual(run.trades.map(row), expected)
  assert.deepEqual(run.trades[0], {
    v: 1,
    type: 'trade',
    symbol: 'MSFT',
    ts: '2018-09-04T04:53:38.784000Z',
    price: '114.125',
    size: '100',
    source: 'polygon',
    id: 'MSFT:4:2018-09-04:12345',
    conditions: ['UTP:@', 'UTP:T', 'UTP:W'],
  })
  assert.equal(source.stats.malformed, garbage.length)
  assert.equal(source.stats.duplicates, 2 * 2)
  assert.equal(source.stats.quotes, 25 + 2)
  assert.equal(source.stats.bars, 25 + 2)
  assert.equal(source.stats.reconnects, 1)
  assert.equal(server.authAttempts, 2)
  assert.deepEqual(server.subscriptions, [
    'T.MSFT,Q.MSFT,AM.MSFT,T.AAPL,Q.AAPL,AM.AAPL',
    'T.MSFT,Q.MSFT,AM.MSFT,T.AAPL,Q.AAPL,AM.AAPL',
  ])
  assert.ok(!h.logs.join('\n').includes(KEY), 'the key never reaches the logs')
})

test('polygon: auth_failed is one fatal error after exactly one auth attempt', async (t) => {
  const server = await startPolygonServer({ key: KEY, frames: [] })
  t.after(() => server.close())
  const h = harness()
  const wrong = 'polygon-wrong-key-7'
  const o = polygonOptions.parse({
    symbols: ['MSFT'],
    apiKey: wrong,
    baseUrl: `${server.url}/stocks`,
    reconnect: quick,
  })
  const run = await collect(polygon.create(o, h.deps), h, () => false, 3000)
  assert.equal(run.timedOut, false)
  assert.ok(run.error instanceof Error)
  assert.match(run.error.message, /polygon: the provider rejected the credentials \(authentication failed\)/)
  assert.equal((run.error as { code?: string }).code, 'TF_PROVIDER')
  assert.equal((run.error as { service?: string }).service, 'polygon')
  assert.ok(!run.error.message.includes(wrong) && !h.logs.join('\n').includes(wrong))
  assert.equal(server.authAttempts, 1)
  assert.equal(server.upgrades, 1)
})
