// Indicators keep up with live candles, in real Chromium against `tickflow up` (embedded store)
// offering 2,000 trades/s: every live bar asks the panes to reload, and a debounce that each bar
// pushed back left SMA(3) seconds behind the candles (seen: one point for 8 s while the candles went
// from 6 to 14). Sampled every 500 ms for 8 s, the panes must reload again and again and never
// trail the candles by more than the reload period allows. On a loaded machine an indicator
// response can take longer than that period: each reload then discarded the one before it, so none
// was ever drawn (seen in CI: SMA(3) at 2 points while the candles went from 5 to 10).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Page } from 'playwright-core'
import { openLiveUp, readState, sampleWithSlowResponses, watchRequests } from '../support/dashboard.ts'

const indicators = (url: string): boolean => url.includes('/api/v1/indicators?')

interface Drawn {
  drawn: Record<string, { points: number }>
}

test('indicator panes follow live candles while trades stream in', async (t) => {
  const { page, errors, address } = await openLiveUp(t)
  const requests = watchRequests(page, indicators)
  let startReloads = 0
  const samples = await sampleSma(page, address, () => (startReloads = requests.started))
  const seen = JSON.stringify(samples)
  const reloads = requests.started - startReloads
  t.diagnostic(`${reloads} reloads; ${seen}`)
  const first = samples[0]!
  const last = samples.at(-1)!
  // Live candles arrived throughout (one a second).
  assert.ok(last.candles >= first.candles + 5, `candles did not stream: ${seen}`)
  // The panes reloaded while bars streamed: one reload per 500 ms at most, at least one a second.
  assert.ok(reloads >= 8, `${reloads} indicator reloads in 8 s: ${seen}`)
  // SMA(3) has a point for every candle but the first two. The pane reloads within 500 ms of a
  // bar, plus the request: a sample may lag a candle behind (two on a loaded machine), no more.
  for (const s of samples.slice(2))
    assert.ok(s.points >= s.candles - 4, `SMA(3) fell behind the candles: ${seen}`)
  assert.deepEqual(errors, [])
})

test('indicator panes follow live candles when each response takes longer than the reload period', async (t) => {
  // One request at a time: a reload due while one runs waits for it, instead of piling up.
  const { samples, seen, errors } = await sampleWithSlowResponses(t, indicators, 'indicator', sampleSma)
  // A drawn response is at most two requests old (1.6 s, two candles), plus SMA(3)'s first two
  // candles and a candle of slack for a loaded machine.
  for (const s of samples.slice(2))
    assert.ok(s.points >= s.candles - 5, `SMA(3) fell behind the candles: ${seen}`)
  assert.deepEqual(errors, [])
})

/**
 * Opens AAA's 1s chart with SMA(3) once it holds 4 candles, then samples the candles and SMA(3)'s
 * points every 500 ms for 8 s (`onOpen` runs just before the first sample).
 */
async function sampleSma(
  page: Page,
  address: string,
  onOpen = (): void => {},
): Promise<{ candles: number; points: number }[]> {
  await page.goto(`${address}/?symbol=AAA&interval=1s&ind=${encodeURIComponent('sma(3)')}`)
  await page.waitForFunction('window.__tickflow.ready && window.__tickflow.candles >= 4', undefined, {
    timeout: 30_000,
  })
  onOpen()
  const samples: { candles: number; points: number }[] = []
  for (let i = 0; i < 16; i++) {
    await sleep(500)
    const { drawn } = await page.evaluate<Drawn>('JSON.parse(JSON.stringify(window.__tickflow.indicators))')
    samples.push({ candles: (await readState(page)).candles, points: drawn['sma(3)']?.points ?? 0 })
  }
  return samples
}
