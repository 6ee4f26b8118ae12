// Indicators keep up with live candles, in real Chromium against `tickflow up` (embedded store)
// offering 2,000 trades/s: every live bar asks the panes to reload, and a debounce that each bar
// pushed back left SMA(3) seconds behind the candles (seen: one point for 8 s while the candles went
// from 6 to 14). Sampled every 500 ms for 8 s, the panes must reload again and again and never
// trail the candles by more than the reload period allows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { openBrowser, readState, startUp } from '../support/dashboard.ts'

interface Drawn {
  drawn: Record<string, { points: number }>
}

test('indicator panes follow live candles while trades stream in', async (t) => {
  const { address } = await startUp(t, ['--rate', '2000', '--duration', '40s', '--symbols', 'AAA,BBB'])
  await sleep(2000)
  const { page, errors } = await openBrowser(t)
  let reloads = 0
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/indicators?')) reloads++
  })
  await page.goto(`${address}/?symbol=AAA&interval=1s&ind=${encodeURIComponent('sma(3)')}`)
  await page.waitForFunction('window.__tickflow.ready && window.__tickflow.candles >= 4', undefined, {
    timeout: 30_000,
  })
  const points = async (): Promise<number> =>
    (await page.evaluate<Drawn>('JSON.parse(JSON.stringify(window.__tickflow.indicators))')).drawn['sma(3)']
      ?.points ?? 0
  const startReloads = reloads
  const samples: { candles: number; points: number }[] = []
  for (let i = 0; i < 16; i++) {
    await sleep(500)
    samples.push({ candles: (await readState(page)).candles, points: await points() })
  }
  const seen = JSON.stringify(samples)
  t.diagnostic(`${reloads - startReloads} reloads; ${seen}`)
  const first = samples[0]!
  const last = samples.at(-1)!
  // Live candles arrived throughout (one a second).
  assert.ok(last.candles >= first.candles + 5, `candles did not stream: ${seen}`)
  // The panes reloaded while bars streamed: one reload per 500 ms at most, at least one a second.
  assert.ok(reloads - startReloads >= 8, `${reloads - startReloads} indicator reloads in 8 s: ${seen}`)
  // SMA(3) has a point for every candle but the first two. The pane reloads within 500 ms of a
  // bar, plus the request: a sample may lag a candle behind (two on a loaded machine), no more.
  for (const s of samples.slice(2))
    assert.ok(s.points >= s.candles - 4, `SMA(3) fell behind the candles: ${seen}`)
  assert.deepEqual(errors, [])
})
