// The dashboard's chart against `tickflow serve` while a recorded day is replayed into the store in
// three parts: bars stored while the page reads its first page (streamed to another client before
// this page connected) and bars stored while the server was down (the page reconnecting to a
// restarted server) are on the chart afterwards, exactly as the REST API has them. Before, both
// were missing until the bar changed again, which on a finished replay is never.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { gunzipSync, gzipSync } from 'node:zlib'
import type { Page } from 'playwright-core'
import WebSocket from 'ws'
import { runCli } from '../support/cli.ts'
import { binanceFeedTrades, dataFile } from '../support/data.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { buckets, dragChart, latestBar, openBrowser, readState, startServe } from '../support/dashboard.ts'
import type { Bar } from '../../src/store/bars.ts'

const feed = dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz')

/** The feed cut into parts at the given trade times (ms): other frames go with the trade after them. */
function splitFeed(dir: string, cuts: number[]): string[] {
  const parts: string[][] = cuts.map(() => []).concat([[]])
  let part = 0
  for (const line of gunzipSync(readFileSync(feed.path)).toString('utf8').split('\n')) {
    if (line === '') continue
    const at = /"e":"trade".*?"T":(\d+)/.exec(line)
    if (at) while (part < cuts.length && Number(at[1]) >= cuts[part]!) part++
    parts[part]!.push(line)
  }
  return parts.map((lines, i) => {
    const path = join(dir, `part${i}.gz`)
    writeFileSync(path, gzipSync(`${lines.join('\n')}\n`))
    return path
  })
}

async function replay(path: string, url: string): Promise<void> {
  const r = await runCli(['replay', path, '--speed', '0'], { DATABASE_URL: url, KAFKA_BROKERS: '' })
  assert.equal(r.code, 0, r.output)
}

/** A stream client besides the page; resolves, once it is connected, to the bars it is sent. */
async function otherClient(t: TestContext, address: string, interval: string): Promise<Bar[]> {
  const other = new WebSocket(`${address.replace('http', 'ws')}/api/v1/stream`)
  t.after(() => other.terminate())
  const streamed: Bar[] = []
  other.on('message', (m: Buffer) => {
    const msg = JSON.parse(m.toString()) as { type: string; data: Bar }
    if (msg.type === 'bar' && msg.data.interval === interval) streamed.push(msg.data)
  })
  await new Promise((r) => other.once('open', r))
  return streamed
}

/** Waits for the chart to hold `candles` minute bars ending in `last`, then returns its state. */
async function chartReaches(page: Page, candles: number, last: Bar) {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100)) {
    const s = await readState(page)
    if (s.candles === candles && s.lastVolume === last.volume) break
  }
  return readState(page)
}

const minutes = (ts: string[]): number => buckets(ts, 60)

test('bars stored while the page loads and while the server is down reach the chart', async (t) => {
  const trades = binanceFeedTrades(feed.path)
  const times = trades.map((x) => Date.parse(x.ts)).sort((a, b) => a - b)
  // Cut mid-minute, so the last bar of each part is completed by the next one.
  const cuts = [0.5, 0.8].map((f) => times[Math.floor(times.length * f)]!)
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-gaps-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const [first, second, third] = splitFeed(dir, cuts)
  const upTo = (cut: number): string[] => trades.filter((x) => Date.parse(x.ts) < cut).map((x) => x.ts)
  const database = await createTestDatabase()
  t.after(() => database.drop())
  await replay(first!, database.url)

  let server = await startServe(database.url)
  t.after(() => void server.p.child.kill('SIGKILL'))
  const { address } = server
  // Another client (a second tab) keeps the server's live tail moving before this page connects.
  const streamed = await otherClient(t, address, '1m')

  const { page, errors } = await openBrowser(t)
  // The page's first read of bars is answered with what was stored before the second part; the
  // second part is stored, and streamed to the other client, before the answer arrives.
  let held = false
  await page.route('**/api/v1/bars?*', async (route) => {
    if (held) return route.continue()
    held = true
    const response = await route.fetch()
    await replay(second!, database.url)
    const last = await latestBar(address, 'BTCUSDT', '1m')
    for (const deadline = Date.now() + 15_000; ; await sleep(50)) {
      if (streamed.some((b) => b.bucket === last.bucket && b.trades === last.trades)) break
      assert.ok(Date.now() < deadline, 'the second part was not streamed to the other client')
    }
    await route.fulfill({ response })
  })
  await page.goto(address)
  await page.waitForFunction('window.__tickflow.ready && !window.__tickflow.loading', undefined, {
    timeout: 30_000,
  })
  assert.ok(held, 'the page read no bars')
  let last = await latestBar(address, 'BTCUSDT', '1m')
  let s = await chartReaches(page, minutes(upTo(cuts[1]!)), last)
  assert.equal(s.candles, minutes(upTo(cuts[1]!)), 'candles after the second part')
  assert.equal(s.last, last.bucket)
  assert.equal(s.lastClose, last.close)
  assert.equal(s.lastVolume, last.volume)
  assert.deepEqual(errors, [])

  // The server goes away; the third part is stored while it is down; a new server comes up on
  // the same address and the page, reconnecting, reads what it missed.
  server.p.child.kill('SIGKILL')
  await server.p.exited
  await replay(third!, database.url)
  server = await startServe(database.url, Number(new URL(address).port))
  last = await latestBar(address, 'BTCUSDT', '1m')
  s = await chartReaches(page, minutes(trades.map((x) => x.ts)), last)
  assert.ok(s.resyncs >= 1, `the page did not reconnect: ${JSON.stringify(s)}`)
  assert.equal(s.candles, minutes(trades.map((x) => x.ts)), 'candles after the third part')
  assert.equal(s.last, last.bucket)
  assert.equal(s.lastClose, last.close)
  assert.equal(s.lastVolume, last.volume)
})

/** `n` one-second trades of GAPS from `start` (ms) as a CSV; returns its path. */
function secondsCsv(dir: string, name: string, start: number, n: number, first: number): string {
  const lines = ['symbol,ts,price,size,id']
  for (let i = 0; i < n; i++) {
    const ts = new Date(start + i * 1000).toISOString()
    lines.push(
      `GAPS,${ts},${(100 + ((first + i) % 7) / 10).toFixed(2)},${1 + ((first + i) % 5)},g${first + i}`,
    )
  }
  const path = join(dir, name)
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

test("scrolled forward from a link to the newest page, the chart keeps the bars stored while it loaded; a date jump shows the day's first bars", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-gaps-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const start = Date.UTC(2024, 7, 8, 23, 50)
  // 500 one-second bars, then 30 more stored while the page reads its last page of them.
  const database = await createTestDatabase()
  t.after(() => database.drop())
  await replay(secondsCsv(dir, 'a.csv', start, 500, 0), database.url)
  const server = await startServe(database.url)
  t.after(() => void server.p.child.kill('SIGKILL'))
  const { address } = server
  const streamed = await otherClient(t, address, '1s')

  const { page, errors } = await openBrowser(t)
  // A link to the first minute: the chart holds the bars either side of it, with newer pages to load.
  const iso = (ms: number): string => new Date(ms).toISOString().replace('.000', '')
  await page.goto(`${address}/?symbol=GAPS&interval=1s&from=${iso(start)}&to=${iso(start + 60_000)}`)
  await page.waitForFunction('window.__tickflow.ready && !window.__tickflow.loading', undefined, {
    timeout: 30_000,
  })
  assert.equal((await readState(page)).last, iso(start + 229_000))
  let stored = false
  await page.route('**/api/v1/bars?*cursor=*', async (route) => {
    const response = await route.fetch()
    const page = (await response.json()) as { nextCursor: string | null }
    if (page.nextCursor === null && !stored) {
      stored = true
      await replay(secondsCsv(dir, 'b.csv', start + 500_000, 30, 500), database.url)
      const lastBucket = iso(start + 529_000)
      for (const deadline = Date.now() + 15_000; ; await sleep(50)) {
        if (streamed.some((b) => b.bucket === lastBucket)) break
        assert.ok(Date.now() < deadline, 'the new bars were not streamed to the other client')
      }
    }
    await route.fulfill({ response })
  })
  const want = iso(start + 529_000)
  for (let i = 0; i < 40 && (await readState(page)).last !== want; i++) {
    await dragChart(page, -600)
    await sleep(200)
  }
  const s = await readState(page)
  assert.ok(stored, `the newest page was never read: ${JSON.stringify(s)}`)
  assert.equal(s.last, want)
  assert.equal(s.candles, 530)
  assert.equal(s.reachedStart, true)
  const bar = await latestBar(address, 'GAPS', '1s')
  assert.deepEqual([s.last, s.lastClose, s.lastVolume], [bar.bucket, bar.close, bar.volume])

  // The date box on the day: its trades begin at 23:50, so the chart shows its first minute
  // bars (a minute either side of the first), not the empty stretch around noon (two bars wide).
  await page.fill('#jump-date', '2024-08-08')
  await page.click('#jump button')
  const first = start / 1000
  await page
    .waitForFunction(
      `!window.__tickflow.loading && window.__tickflow.visibleTo - window.__tickflow.visibleFrom >= 55 && window.__tickflow.visibleFrom <= ${first + 5}`,
      undefined,
      { timeout: 10_000 },
    )
    .catch(() => {})
  const jumped = await readState(page)
  assert.ok(
    jumped.visibleFrom <= first + 5 && jumped.visibleTo >= first + 55,
    `after the jump the chart shows ${jumped.visibleFrom}..${jumped.visibleTo}; the day's first bar is ${first}`,
  )
  assert.equal(jumped.first, iso(start))
  assert.deepEqual(errors, [])
})
