// The dashboard in real Chromium (Debian's, driven by playwright-core) against `tickflow serve` on a
// real PostgreSQL database: starting both, failing on any console error, page error or failed
// request, and screenshots in test-results/ at desktop and phone widths.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TestContext } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { root } from './kafka.ts'
import type { Bar } from '../../src/store/bars.ts'
import { startCli, type CliProcess } from './cli.ts'

export const CHROMIUM = '/usr/bin/chromium'

export function buildDashboard(): void {
  if (!existsSync(join(root, 'src/dashboard/dist/index.html')))
    execFileSync('npm', ['run', '--silent', 'build:dashboard'], { cwd: root, stdio: 'inherit' })
}

/**
 * `tickflow up` with the embedded defaults in a fresh directory (removed after the test), started
 * with `args`; resolves once its dashboard listens. Killed after the test unless it exited.
 */
export async function startUp(t: TestContext, args: string[]): Promise<{ up: CliProcess; address: string }> {
  buildDashboard() // served only if built before the server starts
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-ui-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const up = startCli(
    ['up', '--port', '0', ...args],
    { KAFKA_BROKERS: '', DATABASE_URL: '', LOG_LEVEL: 'info' },
    dir,
  )
  t.after(() => void up.child.kill('SIGKILL'))
  for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
    const address = /dashboard (http:\/\/[^/\s]+)/.exec(up.output())?.[1]
    if (address) return { up, address }
    assert.ok(Date.now() < deadline, `tickflow up did not start: ${up.output()}`)
  }
}

/** `tickflow serve` on `url`; resolves to its address once it listens. */
export async function serve(t: TestContext, url: string): Promise<string> {
  const { p, address } = await startServe(url)
  t.after(() => void p.child.kill('SIGKILL'))
  return address
}

/** `tickflow serve` on `url` and `port` (0: any); resolves once it listens. The caller stops it. */
export async function startServe(url: string, port = 0): Promise<{ p: CliProcess; address: string }> {
  const p = startCli(['serve', '--port', String(port)], {
    DATABASE_URL: url,
    KAFKA_BROKERS: '',
    LOG_LEVEL: 'info',
  })
  for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
    const address = /dashboard (http:\/\/[^/\s]+)/.exec(p.output())?.[1]
    if (address) return { p, address }
    assert.ok(Date.now() < deadline, `tickflow serve did not start: ${p.output()}`)
  }
}

/** The latest stored bar of a symbol and interval, from the REST API. */
export async function latestBar(address: string, symbol: string, interval: string): Promise<Bar> {
  const res = await fetch(`${address}/api/v1/bars?symbol=${symbol}&interval=${interval}&order=desc&limit=1`)
  return ((await res.json()) as { data: Bar[] }).data[0]!
}

/** How many distinct buckets of `seconds` the ISO times fall in. */
export function buckets(ts: string[], seconds: number): number {
  return new Set(ts.map((t) => Math.floor(Date.parse(t) / 1000 / seconds))).size
}

export interface Session {
  browser: Browser
  page: Page
  /** Console errors, page errors and responses with status >= 400, in order. */
  errors: string[]
}

export async function openBrowser(t: TestContext, width = 1280): Promise<Session> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian package chromium`)
  buildDashboard()
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
  const page = await browser.newPage({ viewport: { width, height: 900 } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`)
  })
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`)
  })
  return { browser, page, errors }
}

/** Screenshots of the page as it is at 1280 px and at 420 px wide. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(join(root, 'test-results'), { recursive: true })
  await page.setViewportSize({ width: 1280, height: 900 })
  await sleep(300) // the chart resizes on the next animation frame
  await page.screenshot({ path: join(root, `test-results/${name}.png`), fullPage: true })
  await page.setViewportSize({ width: 420, height: 900 })
  await sleep(300)
  await page.screenshot({ path: join(root, `test-results/${name}-420.png`), fullPage: true })
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth')
  assert.ok(overflow <= 420, `the page is ${overflow} px wide at a 420 px viewport`)
  await page.setViewportSize({ width: 1280, height: 900 })
}

/** Drags the chart to the right by `px` (scrolls back in time), as a user would with the mouse. */
export async function dragChart(page: Page, px: number): Promise<void> {
  const box = (await page.locator('#chart').boundingBox())!
  const y = box.y + box.height * 0.4
  await page.mouse.move(box.x + 60, y)
  await page.mouse.down()
  await page.mouse.move(box.x + 60 + px, y, { steps: 8 })
  await page.mouse.up()
}

export interface DashState {
  symbol: string
  interval: string
  candles: number
  first: string
  last: string
  lastClose: string
  lastVolume: string
  reachedStart: boolean
  loading: boolean
  /** Live bars drawn, and times the stream opened again and the views were read again. */
  updates: number
  resyncs: number
  ready: boolean
  empty: boolean
  error: string
  visibleFrom: number
  visibleTo: number
}

export const readState = (page: Page): Promise<DashState> =>
  page.evaluate<DashState>('({ ...window.__tickflow })')

/** A page's requests whose URL matches: started, answered, and the most in flight at once. */
export interface Requests {
  started: number
  answered: number
  mostInFlight: number
}

/** Counts the requests of `page` whose URL matches `match`, from now on (the object stays live). */
export function watchRequests(page: Page, match: (url: string) => boolean): Requests {
  const seen: Requests = { started: 0, answered: 0, mostInFlight: 0 }
  let inFlight = 0
  page.on('request', (r) => {
    if (!match(r.url())) return
    seen.started++
    seen.mostInFlight = Math.max(seen.mostInFlight, ++inFlight)
  })
  page.on('requestfinished', (r) => {
    if (!match(r.url())) return
    inFlight--
    seen.answered++
  })
  page.on('requestfailed', (r) => {
    if (match(r.url())) inFlight--
  })
  return seen
}

/** `tickflow up` offering 2,000 trades/s of AAA and BBB for 40 s, and a browser, once bars are stored. */
export async function openLiveUp(t: TestContext): Promise<Session & { address: string }> {
  const { address } = await startUp(t, ['--rate', '2000', '--duration', '40s', '--symbols', 'AAA,BBB'])
  await sleep(2000)
  return { ...(await openBrowser(t)), address }
}

/**
 * A live overlay under responses slower than its reload period: `tickflow up` streaming, every
 * response whose URL matches held back 800 ms (longer than the 500 ms between live reloads), and
 * `sample` run on the page. Asserts that candles streamed meanwhile, that the overlay's requests
 * ran one at a time, and that at least six were answered in the 8 s.
 */
export async function sampleWithSlowResponses<S extends { candles: number }>(
  t: TestContext,
  match: (url: string) => boolean,
  what: string,
  sample: (page: Page, address: string) => Promise<S[]>,
): Promise<{ samples: S[]; seen: string; errors: string[] }> {
  const { page, errors, address } = await openLiveUp(t)
  await page.route(
    (url) => match(url.href),
    async (route) => {
      await sleep(800)
      await route.continue()
    },
  )
  const requests = watchRequests(page, match)
  const samples = await sample(page, address)
  const seen = JSON.stringify(samples)
  t.diagnostic(`${requests.answered} responses, at most ${requests.mostInFlight} at once; ${seen}`)
  assert.ok(samples.at(-1)!.candles >= samples[0]!.candles + 5, `candles did not stream: ${seen}`)
  assert.equal(requests.mostInFlight, 1, `${requests.mostInFlight} ${what} requests at once`)
  assert.ok(requests.answered >= 6, `${requests.answered} ${what} responses in 8 s: ${seen}`)
  return { samples, seen, errors }
}
