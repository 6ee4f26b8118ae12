import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { normaliseTs, readTrades, replayOptions, type ReplayRecord } from '../../src/sources/replay.ts'

async function collect(file: string, extra: Record<string, unknown> = {}): Promise<ReplayRecord[]> {
  const out: ReplayRecord[] = []
  for await (const r of readTrades(replayOptions.parse({ file, ...extra }))) out.push(r)
  return out
}

test('timestamps in seconds, ms, µs, ns and ISO become ISO with microseconds', () => {
  assert.equal(normaliseTs('1723161256'), '2024-08-08T23:54:16.000000Z')
  assert.equal(normaliseTs('1723161256.5'), '2024-08-08T23:54:16.500000Z')
  assert.equal(normaliseTs('1723161256322'), '2024-08-08T23:54:16.322000Z')
  assert.equal(normaliseTs('1723161256322123'), '2024-08-08T23:54:16.322123Z')
  assert.equal(normaliseTs('1723161255088176367'), '2024-08-08T23:54:15.088176Z')
  assert.equal(normaliseTs('2024-08-08T23:54:16.1Z'), '2024-08-08T23:54:16.100000Z')
  assert.equal(normaliseTs('2024-08-08 19:54:16.123456789-04:00'), '2024-08-08T23:54:16.123456Z')
  assert.equal(normaliseTs('2013-02-08'), '2013-02-08T00:00:00.000000Z')
  assert.equal(normaliseTs('tomorrow'), undefined)
})

test('CSV with other column names, mapped; gzip detected; bad rows passed on, not dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'trades.csv.gz')
  writeFileSync(
    file,
    gzipSync(
      'when,sym,px,qty,tid\n1723161256322,btcusdt,61800.30,0.006,5266583935\n"1723161256344",BTCUSDT,"61800.30",0.199,5266583936\n,BTCUSDT,1,1,x\n',
    ),
  )
  const recs = await collect(file, {
    columns: { ts: 'when', symbol: 'sym', price: 'px', size: 'qty', id: 'tid' },
    source: 'binance',
  })
  assert.deepEqual(recs[0], {
    trade: {
      v: 1,
      type: 'trade',
      symbol: 'BTCUSDT',
      ts: '2024-08-08T23:54:16.322000Z',
      price: '61800.30',
      size: '0.006',
      source: 'binance',
      id: '5266583935',
    },
    eventMs: 1723161256322,
  })
  assert.equal('trade' in recs[1]! && recs[1].trade.size, '0.199')
  assert.deepEqual(recs[2], { raw: ',BTCUSDT,1,1,x', key: 'BTCUSDT' })
  await assert.rejects(
    collect(file, { columns: { ts: 'nope' } }),
    /column "nope" \(for ts\) is not in the file's header/,
  )
})

test('NDJSON with aliases and a Binance feed recording', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const nd = join(dir, 'a.ndjson')
  writeFileSync(nd, '{"s":"AAPL","t":"2026-11-24T15:30:00.5Z","p":"189.2","q":100}\n{"broken"\n')
  const recs = await collect(nd)
  assert.deepEqual(recs[0], {
    trade: {
      v: 1,
      type: 'trade',
      symbol: 'AAPL',
      ts: '2026-11-24T15:30:00.500000Z',
      price: '189.2',
      size: '100',
      source: 'replay',
    },
    eventMs: Date.parse('2026-11-24T15:30:00.5Z'),
  })
  assert.deepEqual(recs[1], { raw: '{"broken"', key: '' })
  const feed = join(dir, 'feed.txt')
  writeFileSync(
    feed,
    [
      '1723161255030314667 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"s":"BTCUSDT"}}',
      '1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}',
      '1723161255090000000 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","s":"BTCUSDT","b":"61800.20","a":"61800.30"}}',
    ].join('\n'),
  )
  const f = await collect(feed)
  assert.equal(f.length, 1)
  assert.deepEqual(f[0], {
    trade: {
      v: 1,
      type: 'trade',
      symbol: 'BTCUSDT',
      ts: '2024-08-08T23:54:16.322000Z',
      price: '61800.30',
      size: '0.006',
      source: 'replay',
      id: '5266583935',
    },
    eventMs: 1723161256322,
  })
})
