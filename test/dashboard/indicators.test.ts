// Indicators on the dashboard, in real Chromium against `tickflow serve` and PostgreSQL with the
// S&P 500 daily file imported: the indicators named in the URL are drawn (SMA, EMA, Bollinger and
// VWAP over the candles, RSI and MACD in panes of their own) with the API's values; the toolbar
// turns them on and off, the URL follows, and a reload shows the same. Any console error, page
// error or failed request fails the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runCli } from '../support/cli.ts'
import { dataFile } from '../support/data.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { openBrowser, readState, screenshots, serve } from '../support/dashboard.ts'
import type { Page } from 'playwright-core'

interface Drawn {
  on: string[]
  drawn: Record<string, { points: number; last: Record<string, string | null>; pane: number }>
  panes: number
  loading: boolean
}

const indicators = (page: Page): Promise<Drawn> =>
  page.evaluate<Drawn>('JSON.parse(JSON.stringify(window.__tickflow.indicators))')

async function settled(page: Page): Promise<Drawn> {
  await page.waitForFunction(
    'window.__tickflow.ready && !window.__tickflow.loading && !window.__tickflow.indicators.loading',
    undefined,
    {
      timeout: 30_000,
    },
  )
  return indicators(page)
}

test('indicators over the candles and in their own panes, kept in the URL', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const imported = await runCli(
    ['replay', dataFile('all_stocks_5yr.csv.gz').path, '--format', 'daily-bars'],
    {
      DATABASE_URL: database.url,
      KAFKA_BROKERS: '',
    },
  )
  assert.equal(imported.code, 0, imported.output)
  const address = await serve(t, database.url)
  const symbols = (await (await fetch(`${address}/api/v1/symbols`)).json()) as { data: { symbol: string }[] }
  const symbol = symbols.data.some((s) => s.symbol === 'AAPL') ? 'AAPL' : symbols.data[0]!.symbol
  const { page, errors } = await openBrowser(t)
  const wanted = ['sma(20)', 'bollinger(20,2)', 'rsi(14)', 'macd(12,26,9)']
  await page.goto(`${address}/?symbol=${symbol}&interval=1d&ind=${encodeURIComponent(wanted.join(','))}`)
  let ind = await settled(page)
  const state = await readState(page)
  assert.equal(state.interval, '1d')
  assert.deepEqual(ind.on, wanted)

  // What the API says for the bars the chart holds.
  const api = async (query: string) => {
    const to = new Date(Date.parse(state.last) + 1000).toISOString()
    const url = `${address}/api/v1/indicators?symbol=${symbol}&interval=1d&${query}&from=${state.first}&to=${to}&limit=5000`
    const rows = ((await (await fetch(url)).json()) as { data: Record<string, string | null>[] }).data
    assert.equal(rows.length, state.candles)
    return rows
  }
  for (const [label, query, column] of [
    ['sma(20)', 'name=sma&period=20', 'value'],
    ['bollinger(20,2)', 'name=bollinger&period=20&k=2', 'upper'],
    ['rsi(14)', 'name=rsi&period=14', 'value'],
    ['macd(12,26,9)', 'name=macd&fast=12&slow=26&signal=9', 'histogram'],
  ] as const) {
    const rows = await api(query)
    const drawn = ind.drawn[label]!
    assert.equal(drawn.last[column], rows.at(-1)![column], label)
    const first = label.startsWith('macd') ? 'macd' : label.startsWith('bollinger') ? 'middle' : 'value'
    assert.equal(drawn.points, rows.filter((r) => r[first] !== null).length, label)
    assert.ok(drawn.points > 0, label)
  }
  // SMA and Bollinger share the price pane; RSI and MACD get one each below price and volume.
  assert.deepEqual(
    wanted.map((l) => ind.drawn[l]!.pane),
    [0, 0, 2, 3],
  )
  assert.equal(ind.panes, 4)
  await screenshots(page, 'indicators')

  // On with the toolbar: VWAP over the candles; off: RSI, whose pane goes.
  await page.click('#indicators button[data-ind="vwap"]')
  await page.click('#indicators button[data-ind="rsi(14)"]')
  ind = await settled(page)
  await page.waitForFunction('new URLSearchParams(location.search).get("ind")?.includes("vwap")')
  assert.deepEqual(ind.on, ['sma(20)', 'bollinger(20,2)', 'macd(12,26,9)', 'vwap'])
  assert.equal(ind.drawn.vwap!.pane, 0)
  assert.equal(ind.drawn.vwap!.last.value, (await api('name=vwap')).at(-1)!.value)
  assert.equal(ind.drawn['macd(12,26,9)']!.pane, 2)
  assert.equal(ind.panes, 3)
  assert.equal(new URL(page.url()).searchParams.get('ind'), 'sma(20),bollinger(20,2),macd(12,26,9),vwap')

  // A reload shows the same indicators.
  await page.reload()
  ind = await settled(page)
  assert.deepEqual(ind.on, ['sma(20),bollinger(20,2),macd(12,26,9),vwap'.split(/,(?![^(]*\))/)].flat())
  assert.equal(ind.panes, 3)
  assert.deepEqual(errors, [])
})
