// The Alpaca adapter against a loopback server speaking the v2 stock stream protocol.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { alpaca, alpacaOptions } from '../../src/sources/alpaca.ts'
import { startAlpacaServer } from '../support/providers/alpaca.ts'
import { collect, harness, quick } from '../support/providers/server.ts'

const KEY = 'AKTESTKEYID0001'
const SECRET = 'alpaca-secret-very-private'
const symbols = ['AAPL', 'MSFT']

/** 30 frames, each an array of two trades (AAPL on IEX, MSFT on another venue), a quote and a bar. */
function script(): { frames: string[]; expected: string[] } {
  const frames: string[] = []
  const expected: string[] = []
  const prices: [number, string][] = [
    [126.55, '126.55'],
    [415.1, '415.1'],
    [0.0001, '0.0001'],
    [1e-7, '0.0000001'],
  ]
  for (let i = 0; i < 30; i++) {
    const ns = String(208123456 + i * 1000).padStart(9, '0')
    const ts = `2021-02-22T15:51:44.${ns}Z`
    const msgs: unknown[] = []
    for (const [j, S] of symbols.entries()) {
      const [p, text] = prices[(i + j) % prices.length]!
      // Tape C codes are UTP's, tape A's CTA's; a blank code is the regular sale.
      const [c, z, conditions] = j ? [[' ', 'M'], 'A', 'CTA:@,CTA:M'] : [['@', 'I'], 'C', 'UTP:@,UTP:I']
      msgs.push({ T: 't', i: 96921 + i, S, x: j ? 'V' : 'D', p, s: 100 + j, t: ts, c, z })
      expected.push(
        `${S}|2021-02-22T15:51:44.${ns.slice(0, 6)}Z|${text}|${100 + j}|${S}:${j ? 'V' : 'D'}:2021-02-22:${96921 + i}|${conditions}`,
      )
    }
    msgs.push({
      T: 'q',
      S: 'AAPL',
      bx: 'U',
      bp: 126.5,
      bs: 1,
      ax: 'Q',
      ap: 126.6,
      as: 2,
      t: ts,
      c: ['R'],
      z: 'C',
    })
    msgs.push({ T: 'b', S: 'AAPL', o: 126.5, h: 126.6, l: 126.4, c: 126.55, v: 500, t: ts })
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

test('alpaca: auth, subscribe, exact trades; a drop mid-stream resubscribes and repeats nothing', async (t) => {
  const { frames, expected } = script()
  const garbage = [
    '{"T":"t"}',
    '[{"T":"t","S":"AAPL","p":"1","s":1,"t":"x","i":1}]',
    'nonsense',
    '[null]',
    '[{"T":"t","S":"AAPL","p":1,"s":1,"t":"2021-02-22T15:51:44Z","i":7,"c":"I","z":"C"}]',
  ]
  frames.splice(3, 0, ...garbage)
  const server = await startAlpacaServer({ key: KEY, secret: SECRET, frames, dropAt: 20, overlap: 3 })
  t.after(() => server.close())
  const h = harness()
  const o = alpacaOptions.parse({
    symbols,
    keyId: KEY,
    secretKey: SECRET,
    baseUrl: `${server.url}/v2`,
    reconnect: quick,
  })
  const source = alpaca.create(o, h.deps)
  const run = await collect(source, h, (got) => got.length >= expected.length)
  assert.equal(run.error, undefined)
  assert.deepEqual(run.trades.map(row), expected)
  assert.deepEqual(run.trades[0], {
    v: 1,
    type: 'trade',
    symbol: 'AAPL',
    ts: '2021-02-22T15:51:44.208123Z',
    price: '126.55',
    size: '100',
    source: 'alpaca',
    id: 'AAPL:D:2021-02-22:96921',
    conditions: ['UTP:@', 'UTP:I'],
  })
  assert.equal(source.stats.malformed, garbage.length)
  assert.equal(source.stats.duplicates, 3 * 2)
  assert.equal(source.stats.quotes, 30 + 3)
  assert.equal(source.stats.bars, 30 + 3)
  assert.equal(source.stats.reconnects, 1)
  assert.equal(server.authAttempts, 2)
  assert.deepEqual(server.paths, ['/v2/iex', '/v2/iex'])
  assert.deepEqual(server.subscriptions, [
    { action: 'subscribe', trades: symbols },
    { action: 'subscribe', trades: symbols },
  ])
  const logs = h.logs.join('\n')
  assert.ok(!logs.includes(SECRET) && !logs.includes(KEY), 'credentials never reach the logs')
})

test('alpaca: 406 connection limit and 407 slow client reconnect with backoff', async (t) => {
  const { frames, expected } = script()
  const server = await startAlpacaServer({
    key: KEY,
    secret: SECRET,
    frames,
    errorAfterSubscribe: (n) => [406, 407][n],
  })
  t.after(() => server.close())
  const h = harness()
  const o = alpacaOptions.parse({
    symbols,
    keyId: KEY,
    secretKey: SECRET,
    baseUrl: `${server.url}/v2`,
    reconnect: quick,
  })
  const source = alpaca.create(o, h.deps)
  const run = await collect(source, h, (got) => got.length >= expected.length)
  assert.equal(run.error, undefined)
  assert.deepEqual(run.trades.map(row), expected)
  assert.equal(source.stats.reconnects, 2)
  assert.equal(server.authAttempts, 3)
  assert.match(h.logs.join('\n'), /406 connection limit exceeded[\s\S]*407 slow client/)
})

test('alpaca: 402 auth failed is one fatal error after exactly one auth attempt', async (t) => {
  const server = await startAlpacaServer({ key: KEY, secret: SECRET, frames: [] })
  t.after(() => server.close())
  const h = harness()
  const wrong = 'not-the-secret-999'
  const o = alpacaOptions.parse({
    symbols,
    keyId: KEY,
    secretKey: wrong,
    baseUrl: `${server.url}/v2`,
    reconnect: quick,
  })
  const run = await collect(alpaca.create(o, h.deps), h, () => false, 3000)
  assert.equal(run.timedOut, false)
  assert.ok(run.error instanceof Error)
  assert.match(run.error.message, /alpaca: the provider rejected the credentials \(402 auth failed\)/)
  assert.equal((run.error as { retryable?: boolean }).retryable, false)
  assert.ok(!run.error.message.includes(wrong) && !h.logs.join('\n').includes(wrong))
  assert.equal(server.authAttempts, 1)
  assert.equal(server.upgrades, 1)
})

test('alpaca: 405 symbol limit stops the source instead of retrying', async (t) => {
  const server = await startAlpacaServer({
    key: KEY,
    secret: SECRET,
    frames: [],
    errorAfterSubscribe: () => 405,
  })
  t.after(() => server.close())
  const h = harness()
  const o = alpacaOptions.parse({
    symbols,
    keyId: KEY,
    secretKey: SECRET,
    baseUrl: `${server.url}/v2`,
    feed: 'sip',
    reconnect: quick,
  })
  const run = await collect(alpaca.create(o, h.deps), h, () => false, 3000)
  assert.match(String(run.error), /symbol limit exceeded/)
  assert.equal(server.upgrades, 1)
  assert.deepEqual(server.paths, ['/v2/sip'])
})
