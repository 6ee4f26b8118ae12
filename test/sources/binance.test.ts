// The Binance adapter against a loopback server playing the real recorded feed frame by frame.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { binance, binanceOptions } from '../../src/sources/binance.ts'
import type { Trade } from '../../src/domain/trade.ts'
import { TradeChecksum } from '../support/checksum.ts'
import { binanceCsvTrades, binanceFeedTrades, dataFile } from '../support/data.ts'
import { recordedFrames, startBinanceServer } from '../support/providers/binance.ts'
import { collect, harness, quick } from '../support/providers/server.ts'

const feed = dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz')
const frames = recordedFrames(feed.path)
const csv = join(feed.path, '../binance_usdm_btcusdt_20240808_trades.csv')
// The full recording is checked against the flattened CSV beside it (an independent derivation);
// the shipped excerpt against its own frames.
const expected = feed.full && existsSync(csv) ? binanceCsvTrades(csv) : binanceFeedTrades(feed.path)

function checksum(trades: { symbol: string; ts: string; price: string; size: string }[]): TradeChecksum {
  const sum = new TradeChecksum()
  for (const t of trades) sum.add(t)
  return sum
}

const key = (t: { id?: string; price: string; size: string; ts: string }): string =>
  `${t.id?.replace(/^BTCUSDT:/, '')}|${t.price}|${t.size}|${t.ts}`

test('binance: the recorded feed played frame by frame yields exactly its trades', async (t) => {
  const server = await startBinanceServer({ frames, streams: ['btcusdt@trade', 'btcusdt@bookTicker'] })
  t.after(() => server.close())
  const h = harness()
  const options = binanceOptions.parse({
    symbols: ['BTCUSDT'],
    baseUrl: server.url,
    quotes: true,
    reconnect: quick,
  })
  const source = binance.create(options, h.deps)
  const quoteFrames = frames.filter((f) => f.includes('"e":"bookTicker"')).length
  // The recording's last frames are quotes: the run ends once they are counted too (or, when they
  // come after the last trade's batch, when the time is up).
  const run = await collect(
    source,
    h,
    (got) => got.length >= expected.length && source.stats.quotes >= quoteFrames,
    9000,
  )
  assert.equal(run.error, undefined)
  if (feed.full) assert.equal(expected.length, 21_313)
  assert.equal(run.trades.length, expected.length)
  assert.deepEqual(checksum(run.trades), checksum(expected))
  assert.deepEqual(run.trades.map(key), expected.map(key))
  assert.deepEqual(run.trades[0], {
    v: 1,
    type: 'trade',
    symbol: 'BTCUSDT',
    ts: '2024-08-08T23:54:16.322000Z',
    price: '61800.30',
    size: '0.006',
    source: 'binance',
    id: 'BTCUSDT:5266583935',
  } satisfies Trade)
  if (feed.full)
    assert.deepEqual(run.trades.at(-1), {
      v: 1,
      type: 'trade',
      symbol: 'BTCUSDT',
      ts: '2024-08-08T23:59:59.643000Z',
      price: '61659.80',
      size: '0.076',
      source: 'binance',
      id: 'BTCUSDT:5266605247',
    } satisfies Trade)
  assert.equal(source.stats.quotes, quoteFrames)
  if (feed.full) assert.equal(quoteFrames, 66_089)
  assert.equal(source.stats.malformed, 0)
  assert.equal(source.stats.connections, 1)
  assert.deepEqual(server.subscriptions, ['btcusdt@trade/btcusdt@bookTicker'])
  const ingested = await h.deps.metrics.registry.getSingleMetricAsString('tickflow_ticks_ingested_total')
  assert.match(
    ingested,
    new RegExp(`tickflow_ticks_ingested_total\\{source="binance"\\} ${expected.length}\\b`),
  )
})

test('binance: a dropped connection mid-stream reconnects, resubscribes, and loses or repeats nothing', async (t) => {
  const trades = frames.filter((f) => f.startsWith('{"stream":"btcusdt@trade"'))
  const garbage = [
    'not json at all',
    '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":"x","p":"1","q":"1","T":1}}',
    '[1,2,3]',
    '{"stream":"btcusdt@trade","data":null}',
    '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":1,"p":61800.3,"q":"1","T":1723161256322}}',
  ]
  const dropAt = Math.floor(trades.length / 2)
  const server = await startBinanceServer({
    frames,
    streams: ['btcusdt@trade'],
    inject: garbage.map((g, i) => [10 + i * 10, g] as [number, string]),
    dropAt,
    overlap: 40,
  })
  t.after(() => server.close())
  const h = harness()
  const options = binanceOptions.parse({
    symbols: ['btcusdt'],
    baseUrl: `${server.url}/stream`,
    reconnect: quick,
  })
  const source = binance.create(options, h.deps)
  // Trades only (no quote stream here): the run ends with the last trade.
  const run = await collect(source, h, (got) => got.length >= expected.length, 9000)
  assert.equal(run.error, undefined)
  assert.equal(run.trades.length, expected.length)
  assert.deepEqual(run.trades.map(key), expected.map(key))
  assert.equal(new Set(run.trades.map((x) => x.id)).size, expected.length)
  assert.equal(source.stats.malformed, garbage.length)
  assert.equal(source.stats.duplicates, 40)
  assert.equal(source.stats.reconnects, 1)
  assert.deepEqual(server.subscriptions, ['btcusdt@trade', 'btcusdt@trade'])
  assert.equal(server.plan.sent.length, trades.length + garbage.length + 40)
  const reconnects = await h.deps.metrics.registry.getSingleMetricAsString('tickflow_source_reconnects_total')
  assert.match(reconnects, /tickflow_source_reconnects_total\{source="binance"\} 1\b/)
})

test('binance: a refused subscription (HTTP 400) is one fatal error, not a reconnect loop', async (t) => {
  const server = await startBinanceServer({ frames: [], streams: ['btcusdt@trade'] })
  t.after(() => server.close())
  const h = harness()
  const options = binanceOptions.parse({ symbols: ['ETHUSDT'], baseUrl: server.url, reconnect: quick })
  const run = await collect(binance.create(options, h.deps), h, () => false, 3000)
  assert.equal(run.timedOut, false)
  assert.match(String(run.error), /refused the connection with HTTP 400/)
  assert.equal((run.error as { retryable?: boolean }).retryable, false)
  assert.equal(server.upgrades, 1)
})
