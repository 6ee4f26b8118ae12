// The dashboard on the S&P 500 daily file (505 symbols, five years; the shipped excerpt when the
// full file is absent), imported with `tickflow replay --format daily-bars`, in real Chromium
// against `tickflow serve` and PostgreSQL: every symbol is findable in the picker, the ticker table
// pages and asks for quotes in chunks the API accepts, and the whole history of one symbol is
// reachable by scrolling back and by jumping to a date. Any console error, page error or failed
// request fails the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { runCli } from '../support/cli.ts'
import { dataFile } from '../support/data.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { dragChart, openBrowser, readState, screenshots, serve } from '../support/dashboard.ts'

const file = dataFile('all_stocks_5yr.csv.gz')

/** The file's symbols with the dates of their rows that can be bars (the rest are dead letters). */
function dailyRows(): Map<string, string[]> {
  const [, ...lines] = gunzipSync(readFileSync(file.path)).toString('utf8').trim().split('\n')
  const out = new Map<string, string[]>()
  for (const line of lines) {
    const [date, o, h, l, c, , name] = line.split(',')
    if ([o, h, l, c].some((v) => v === '')) continue
    const [open, high, low, close] = [o, h, l, c].map(Number) as [number, number, number, number]
    if (high < low || high < Math.max(open, close) || low > Math.min(open, close)) continue
    out.set(name!, [...(out.get(name!) ?? []), date!])
  }
  return out
}

test('505 symbols of daily bars: picker, paged tickers, five years reachable', async (t) => {
  const rows = dailyRows()
  const names = [...rows.keys()].sort()
  if (file.full) assert.equal(names.length, 505)
  const symbol = rows.has('AAPL')
    ? 'AAPL'
    : names.reduce((a, b) => (rows.get(b)!.length > rows.get(a)!.length ? b : a))
  const dates = rows.get(symbol)!.sort()
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const imported = await runCli(['replay', file.path, '--format', 'daily-bars'], {
    DATABASE_URL: database.url,
    KAFKA_BROKERS: '',
  })
  assert.equal(imported.code, 0, imported.output)
  const address = await serve(t, database.url)
  const { page, errors } = await openBrowser(t)
  const quoteRequests: number[] = []
  page.on('request', (r) => {
    const q = new URL(r.url()).searchParams.get('symbols')
    if (r.url().includes('/api/v1/quotes/latest') && q) quoteRequests.push(q.split(',').length)
  })
  await page.goto(address)
  await page.waitForFunction('window.__tickflow.ready && !window.__tickflow.loading', undefined, {
    timeout: 30_000,
  })
  // With only daily bars stored, the page opens on daily candles by itself.
  assert.equal((await readState(page)).interval, '1d')

  // Every symbol is findable by typing it (in lower case) into the picker.
  // Browser-side code is passed as a string: it runs in the page, not in Node.
  const missing = await page.evaluate<string[]>(`(() => {
    const input = document.getElementById('symbol')
    const lost = []
    for (const s of ${JSON.stringify(names)}) {
      input.value = s.toLowerCase()
      input.dispatchEvent(new Event('input'))
      if (!document.querySelector('#symbol-list li[data-symbol="' + CSS.escape(s) + '"]')) lost.push(s)
    }
    return lost
  })()`)
  assert.deepEqual(missing, [])

  // The ticker table pages; its quotes come in requests of at most 100 symbols.
  const pages = Math.ceil(names.length / 20)
  assert.equal(await page.locator('#tickers-page').textContent(), `1 / ${pages}`)
  assert.equal(await page.locator('#tickers tbody tr').count(), Math.min(20, names.length))
  if (pages > 1) {
    await page.click('#tickers-next')
    await page.waitForFunction(`document.getElementById('tickers-page').textContent === '2 / ${pages}'`)
    const second = await page.locator('#tickers tbody tr td:first-child').allTextContents()
    assert.deepEqual(second, names.slice(20, 40))
  }
  assert.ok(quoteRequests.length > 0 && quoteRequests.every((n) => n <= 100), JSON.stringify(quoteRequests))

  // Pick the symbol by typing and Enter: it opens on its latest day.
  await page.fill('#symbol', symbol.toLowerCase())
  await page.press('#symbol', 'Enter')
  await page.waitForFunction(`window.__tickflow.symbol === '${symbol}' && !window.__tickflow.loading`)
  assert.equal((await readState(page)).last, `${dates.at(-1)}T00:00:00Z`)
  // Scroll back, page by page, to the first day.
  const first = Date.parse(`${dates[0]}T00:00:00Z`) / 1000
  for (let i = 0; i < 120; i++) {
    const s = await readState(page)
    if (s.reachedStart && s.visibleFrom <= first) break
    await dragChart(page, 700)
    await page.waitForFunction('!window.__tickflow.loading')
  }
  const back = await readState(page)
  assert.equal(back.first, `${dates[0]}T00:00:00Z`)
  assert.equal(back.candles, dates.length)
  assert.ok(back.visibleFrom <= first, `scrolled to ${back.visibleFrom}, first day ${first}`)

  // Jump to a day in the middle of the history.
  const middle = dates[Math.floor(dates.length / 2)]!
  await page.fill('#jump-date', middle)
  await page.click('#jump button')
  const at = Date.parse(`${middle}T12:00:00Z`) / 1000
  await page.waitForFunction(
    `!window.__tickflow.loading && window.__tickflow.visibleFrom > 0 && window.__tickflow.visibleFrom <= ${at} && window.__tickflow.visibleTo >= ${at - 86_400}`,
  )
  await screenshots(page, 'dashboard-daily')
  assert.deepEqual(errors, [])
})
