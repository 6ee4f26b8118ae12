// The dashboard on historical data, in real Chromium against `tickflow serve` and PostgreSQL: the
// recorded Binance feed replayed into a fresh store (candles at 1s, 1m and 5m with no date input,
// the stored count, scrolling back to the first trade, the view kept in the URL), and an empty store
// (the empty state, left by itself once trades are stored). Any console error, page error or failed request fails the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { runCli } from '../support/cli.ts'
import { binanceFeedTrades, dataFile } from '../support/data.ts'
import { createTestDatabase } from '../support/postgres.ts'
import {
  buckets,
  dragChart,
  latestBar,
  openBrowser,
  readState,
  screenshots,
  serve,
} from '../support/dashboard.ts'

const feed = dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz')
const PAGE = 200 // bars per request of the dashboard (src/dashboard/chart.ts)

test('a replayed Binance recording: candles at 1s, 1m and 5m, the stored count, back to the first trade', async (t) => {
  const trades = binanceFeedTrades(feed.path)
  if (feed.full) assert.equal(trades.length, 21_313)
  const times = trades.map((x) => x.ts).sort()
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const replay = await runCli(['replay', feed.path, '--speed', '0'], {
    DATABASE_URL: database.url,
    KAFKA_BROKERS: '',
  })
  assert.equal(replay.code, 0, replay.output)
  const address = await serve(t, database.url)
  const { page, errors } = await openBrowser(t)

  await page.goto(address)
  await page.waitForFunction('window.__tickflow.ready && !window.__tickflow.loading', undefined, {
    timeout: 30_000,
  })
  const opened = await readState(page)
  assert.equal(opened.symbol, 'BTCUSDT')
  assert.equal(opened.interval, '1m')
  assert.equal(opened.candles, buckets(times, 60))
  for (const [interval, seconds] of [
    ['1s', 1],
    ['5m', 300],
    ['1m', 60],
  ] as const) {
    await page.click(`button[data-interval="${interval}"]`)
    await page.waitForFunction(
      `window.__tickflow.interval === '${interval}' && !window.__tickflow.loading && document.getElementById('title').textContent === 'BTCUSDT · ${interval}'`,
    )
    const s = await readState(page)
    // The latest page (200 bars, the dashboard's page size) ends at the last trade.
    assert.equal(s.candles, Math.min(PAGE, buckets(times, seconds)), `${interval} candles`)
    assert.equal(Date.parse(s.last) / 1000, Math.floor(Date.parse(times.at(-1)!) / 1000 / seconds) * seconds)
  }
  await page.waitForFunction(
    `document.querySelector('[data-metric="stored"]')?.textContent === '${trades.length.toLocaleString('en')}'`,
    undefined,
    { timeout: 10_000 },
  )

  // One-second candles, then drag the chart back in time until the first trade's second is on screen.
  await page.click('button[data-interval="1s"]')
  const firstSecond = Math.floor(Date.parse(times[0]!) / 1000)
  const lastSecond = Math.floor(Date.parse(times.at(-1)!) / 1000)
  // It opens on the latest second of the recording.
  await page.waitForFunction(
    `window.__tickflow.interval === '1s' && !window.__tickflow.loading && window.__tickflow.visibleTo === ${lastSecond}`,
  )
  for (let i = 0; i < 60 && (await readState(page)).visibleFrom > firstSecond; i++) await dragChart(page, 600)
  const back = await readState(page)
  assert.ok(back.visibleFrom <= firstSecond, `scrolled to ${back.visibleFrom}, first trade at ${firstSecond}`)
  assert.equal(Date.parse(back.first) / 1000, firstSecond)
  assert.equal(back.candles, buckets(times, 1))
  assert.equal(back.reachedStart, true)
  // The legend under the crosshair at the left edge shows the first candle: its open is the first trade's price.
  const box = (await page.locator('#chart').boundingBox())!
  await page.mouse.move(box.x + 2, box.y + box.height * 0.3)
  const legend = (await page.locator('#legend').textContent()) ?? ''
  assert.match(legend, /O \S+ H \S+ L \S+ C \S+ V \S+ VWAP \S+ T \d+/)

  // The view is in the URL: a reload shows the same symbol, interval and range.
  await page.waitForFunction(
    `new URLSearchParams(location.search).get('interval') === '1s' && new URLSearchParams(location.search).get('from') === '${new Date(back.visibleFrom * 1000).toISOString().replace('.000Z', 'Z')}'`,
  )
  const url = page.url()
  await page.goto(url)
  await page.waitForFunction('window.__tickflow.ready && !window.__tickflow.loading')
  const reloaded = await readState(page)
  assert.equal(reloaded.interval, '1s')
  assert.equal(reloaded.symbol, 'BTCUSDT')
  assert.ok(
    Math.abs(reloaded.visibleFrom - back.visibleFrom) <= 2,
    `${reloaded.visibleFrom} vs ${back.visibleFrom}`,
  )
  await screenshots(page, 'dashboard-binance')
  assert.deepEqual(errors, [])
})

test('an empty store: the page says what to run, nothing fails, and it starts when trades arrive', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  await migrate(db)
  await db.close()
  const address = await serve(t, database.url)
  const { page, errors } = await openBrowser(t)
  await page.goto(address)
  await page.waitForFunction('window.__tickflow.ready', undefined, { timeout: 20_000 })
  assert.equal((await readState(page)).empty, true)
  assert.ok(await page.locator('#empty').isVisible())
  assert.match((await page.locator('#empty').textContent()) ?? '', /tickflow up[\s\S]*tickflow replay/)
  assert.equal(await page.locator('#workspace').isVisible(), false)
  await page.waitForFunction(`document.querySelector('[data-metric="stored"]')?.textContent === '0'`)
  await screenshots(page, 'dashboard-empty')

  // Trades stored while the page is open (a page opened before `tickflow up` stored its first
  // trade): the page starts by itself, without a reload, and draws what was stored. Before, it
  // stayed on the empty state for good.
  const trades = binanceFeedTrades(feed.path)
  const replay = await runCli(['replay', feed.path, '--speed', '0'], {
    DATABASE_URL: database.url,
    KAFKA_BROKERS: '',
  })
  assert.equal(replay.code, 0, replay.output)
  // The page may find the symbol mid-replay: what is stored after its first read is streamed.
  const minutes = buckets(
    trades.map((x) => x.ts),
    60,
  )
  const last = await latestBar(address, 'BTCUSDT', '1m')
  await page
    .waitForFunction(
      `window.__tickflow.ready && !window.__tickflow.empty && !window.__tickflow.loading && window.__tickflow.candles === ${minutes} && window.__tickflow.lastVolume === '${last.volume}'`,
      undefined,
      { timeout: 20_000 },
    )
    .catch(() => {})
  const started = await readState(page)
  assert.equal(started.symbol, 'BTCUSDT')
  assert.equal(started.interval, '1m')
  assert.equal(started.candles, minutes)
  assert.deepEqual(
    [started.last, started.lastClose, started.lastVolume],
    [last.bucket, last.close, last.volume],
  )
  assert.equal(started.ready && !started.empty, true)
  assert.equal(await page.locator('#empty').isVisible(), false)
  assert.ok(await page.locator('#workspace').isVisible())
  assert.equal(await page.evaluate('document.body.classList.contains("no-data")'), false)
  assert.deepEqual(errors, [])
})
