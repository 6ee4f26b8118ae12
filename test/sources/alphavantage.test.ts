// The Alpha Vantage adapter against a loopback GLOBAL_QUOTE endpoint.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { alphavantage, alphavantageOptions, sessionClose } from '../../src/sources/alphavantage.ts'
import {
  globalQuote,
  startAlphaVantageServer,
  throttled,
  throttledNote,
} from '../support/providers/alphavantage.ts'
import { collect, harness } from '../support/providers/server.ts'

const KEY = 'AVKEYSECRET123'
const interval = 30

test('alphavantage: session close is 16:00 New York, DST-aware', () => {
  assert.equal(new Date(sessionClose('2024-08-08')).toISOString(), '2024-08-08T20:00:00.000Z')
  assert.equal(new Date(sessionClose('2024-01-05')).toISOString(), '2024-01-05T21:00:00.000Z')
})

test('alphavantage: throttling backs off without trades; a trade only when day or price changes', async (t) => {
  const server = await startAlphaVantageServer([
    globalQuote('IBM', '189.2300', '3000000', '2024-08-07'),
    throttled,
    { status: 503, body: 'upstream down' },
    globalQuote('IBM', '189.2300', '3000000', '2024-08-07'),
    throttledNote,
    globalQuote('IBM', '189.5000', '3100500', '2024-08-07'),
    { body: 'not json {' },
    { body: '{"Global Quote":{}}' },
    globalQuote('IBM', '190.0100', '25000', '2024-08-08'),
  ])
  t.after(() => server.close())
  const h = harness()
  const o = alphavantageOptions.parse({
    symbols: ['IBM'],
    apiKey: KEY,
    baseUrl: server.url,
    intervalMs: interval,
    reconnect: { initialDelayMs: 40, maxDelayMs: 100 },
  })
  const source = alphavantage.create(o, h.deps)
  const run = await collect(source, h, (got) => got.length >= 3)
  assert.equal(run.error, undefined)
  assert.deepEqual(run.trades, [
    {
      v: 1,
      type: 'trade',
      symbol: 'IBM',
      ts: '2024-08-07T20:00:00.000000Z',
      price: '189.2300',
      size: '0',
      source: 'alphavantage',
      id: 'IBM:2024-08-07:189.2300:3000000',
    },
    {
      v: 1,
      type: 'trade',
      symbol: 'IBM',
      ts: '2024-08-07T20:00:00.000000Z',
      price: '189.5000',
      size: '100500',
      source: 'alphavantage',
      id: 'IBM:2024-08-07:189.5000:3100500',
    },
    {
      v: 1,
      type: 'trade',
      symbol: 'IBM',
      ts: '2024-08-08T20:00:00.000000Z',
      price: '190.0100',
      size: '0',
      source: 'alphavantage',
      id: 'IBM:2024-08-08:190.0100:25000',
    },
  ])
  assert.equal(server.requests.length, 9)
  assert.ok(server.requests.every((r) => r.fn === 'GLOBAL_QUOTE' && r.symbol === 'IBM' && r.apikey === KEY))
  // Requests are spaced by the interval, and never sooner after a throttled or failed reply.
  const gaps = server.requests.slice(1).map((r, i) => r.at - server.requests[i]!.at)
  for (const gap of gaps) assert.ok(gap >= interval - 2, `gap ${gap} ms`)
  assert.equal(source.stats.throttled, 3)
  assert.equal(source.stats.malformed, 1)
  assert.equal(source.stats.requests, 9)
  assert.ok(!h.logs.join('\n').includes(KEY), 'the key never reaches the logs')
})

test('alphavantage: symbols are polled in turn', async (t) => {
  const server = await startAlphaVantageServer([
    globalQuote('IBM', '189.2300', '3000000', '2024-01-05'),
    globalQuote('MSFT', '367.7500', '20987900', '2024-01-05'),
  ])
  t.after(() => server.close())
  const h = harness()
  const o = alphavantageOptions.parse({
    symbols: ['IBM', 'MSFT'],
    apiKey: KEY,
    baseUrl: server.url,
    intervalMs: 5,
  })
  const run = await collect(alphavantage.create(o, h.deps), h, (got) => got.length >= 2)
  assert.deepEqual(
    run.trades.map((x) => `${x.symbol} ${x.ts} ${x.price}`),
    ['IBM 2024-01-05T21:00:00.000000Z 189.2300', 'MSFT 2024-01-05T21:00:00.000000Z 367.7500'],
  )
  assert.deepEqual(
    server.requests.map((r) => r.symbol),
    ['IBM', 'MSFT'],
  )
})

test('alphavantage: an invalid API key is one fatal error after exactly one request', async (t) => {
  const server = await startAlphaVantageServer([
    {
      body: JSON.stringify({
        'Error Message': 'the parameter apikey is invalid or missing. Please claim your free API key.',
      }),
    },
  ])
  t.after(() => server.close())
  const h = harness()
  const wrong = 'AV-WRONG-KEY'
  const o = alphavantageOptions.parse({ symbols: ['IBM'], apiKey: wrong, baseUrl: server.url, intervalMs: 5 })
  const run = await collect(alphavantage.create(o, h.deps), h, () => false, 3000)
  assert.equal(run.timedOut, false)
  assert.ok(run.error instanceof Error)
  assert.match(run.error.message, /alphavantage: the provider rejected the credentials/)
  assert.equal((run.error as { retryable?: boolean }).retryable, false)
  assert.ok(!run.error.message.includes(wrong) && !h.logs.join('\n').includes(wrong))
  assert.equal(server.requests.length, 1)
})
