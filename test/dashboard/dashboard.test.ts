// The live dashboard in real Chromium (Debian's, driven by playwright-core) while the embedded
// pipeline runs: candles appear and update live, the ticker table and the health panel fill in;
// a screenshot is saved to test-results/dashboard.png.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium } from 'playwright-core'
import { root } from '../support/kafka.ts'
import { startUp } from '../support/dashboard.ts'

const CHROMIUM = '/usr/bin/chromium'

interface PageState {
  symbol: string
  candles: number
  lastClose: string
  lastVolume: string
  updates: number
}

test('the dashboard shows live candles, tickers and pipeline health', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian package chromium`)
  if (!existsSync(join(root, 'src/dashboard/dist/index.html')))
    execFileSync('npm', ['run', '--silent', 'build:dashboard'], { cwd: root, stdio: 'inherit' })
  const { up, address } = await startUp(t, [
    '--rate',
    '300',
    '--duration',
    '120s',
    '--symbols',
    'AAPL,MSFT,NVDA',
  ])
  await sleep(2000) // a couple of seconds of trades, so the first page load has bars

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`)
  })
  await page.goto(`${address}/?symbol=AAPL&interval=1s`)
  // Browser-side code is passed as strings: it runs in the page, not in Node.
  const read = (): Promise<PageState> =>
    page.evaluate<PageState>('({ ...window.__tickflow, tickers: undefined })')
  await page.waitForFunction('window.__tickflow.candles > 0', undefined, { timeout: 20_000 })
  const first = await read()
  assert.equal(first.symbol, 'AAPL')
  assert.match(first.lastClose, /^\d+\.\d{2}$/)
  // Live: within a few seconds new one-second candles arrive over the WebSocket.
  await page.waitForFunction(`window.__tickflow.candles >= ${first.candles + 3}`, undefined, {
    timeout: 20_000,
  })
  const later = await read()
  assert.ok(later.updates > 0)
  // The page draws the bars the API stores: as many one-second candles (the last may be newer).
  const api = (await (await fetch(`${address}/api/v1/bars?symbol=AAPL&interval=1s&limit=5000`)).json()) as {
    data: { close: string }[]
  }
  assert.ok(
    api.data.length >= later.candles - 2,
    `${api.data.length} bars in the API, ${later.candles} candles drawn`,
  )
  assert.match(later.lastClose, /^\d+\.\d{2}$/)

  const tickers = await page.locator('#tickers tbody tr').allTextContents()
  assert.deepEqual(
    tickers.map((r) => r.slice(0, 4)),
    ['AAPL', 'MSFT', 'NVDA'],
    JSON.stringify(tickers),
  )
  for (const row of tickers) assert.match(row, /^[A-Z]{4}\d+\.\d{2}[+-]\d+\.\d{2}%[\d,.]+[KMBT]?$/)
  await page.waitForFunction(
    `/[1-9]/.test(document.querySelector('[data-metric="persist"]')?.textContent ?? '')`,
    undefined,
    {
      timeout: 10_000,
    },
  )
  const persist = await page.locator('[data-metric="persist"]').textContent()
  assert.match(persist ?? '', /^[\d,]+\/s$/)

  // Switching interval loads that interval's history.
  await page.click('button[data-interval="1m"]')
  await page.waitForFunction(`document.getElementById('title')?.textContent === 'AAPL · 1m'`)
  mkdirSync(join(root, 'test-results'), { recursive: true })
  await page.click('button[data-interval="1s"]')
  await sleep(1500)
  await page.screenshot({ path: join(root, 'test-results/dashboard.png') })
  assert.deepEqual(errors, [])
  up.child.kill('SIGTERM')
  assert.equal((await up.exited).code, 0, up.output())
})
