// The "vs Spark" comparison keeps up with live candles, in real Chromium against `tickflow up`
// (embedded store, no Spark bars yet) offering 2,000 trades/s. Every live bar asked for a reload
// through a debounce that the next bar pushed back, so while trades streamed the comparison still
// counted the bars held when the page opened. Sampled every 500 ms for 8 s, the bars it compares
// must follow the candles, also when each Spark response takes longer than the reload period.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Page } from 'playwright-core'
import { openLiveUp, readState, sampleWithSlowResponses, watchRequests } from '../support/dashboard.ts'

interface Compare {
  tickflow: number
  spark: number
  differ: number
}

const sparkBars = (url: string): boolean => url.includes('/api/v1/bars?') && url.includes('source=spark')

test('vs Spark follows live candles while trades stream in', async (t) => {
  const { page, errors, address } = await openLiveUp(t)
  const spark = watchRequests(page, sparkBars)
  let startRequests = 0
  const samples = await sampleCompare(page, address, () => (startRequests = spark.started))
  const seen = JSON.stringify(samples)
  const requests = spark.started - startRequests
  t.diagnostic(`${requests} Spark requests; ${seen}`)
  assert.ok(samples.at(-1)!.candles >= samples[0]!.candles + 5, `candles did not stream: ${seen}`)
  // At most one reload per 500 ms (16 in 8 s, one already running, and a resync or two if the
  // stream reconnects on a loaded machine), at least one a second. Live bars come many a second.
  assert.ok(requests >= 8 && requests <= 20, `${requests} Spark requests in 8 s: ${seen}`)
  // No Spark bars are stored: every bar compared differs, and the count trails the candles by the
  // reload period plus a request: a candle, two on a loaded machine, no more.
  for (const s of samples.slice(2)) {
    assert.equal(s.spark, 0, seen)
    assert.equal(s.differ, s.tickflow, seen)
    assert.ok(s.tickflow >= s.candles - 3, `the comparison fell behind the candles: ${seen}`)
  }
  assert.deepEqual(errors, [])
})

test('vs Spark follows live candles when each response takes longer than the reload period', async (t) => {
  const { samples, seen, errors } = await sampleWithSlowResponses(t, sparkBars, 'Spark', sampleCompare)
  // A drawn comparison is at most two requests old (1.6 s, two candles), plus the candle still
  // open and one of slack for a loaded machine.
  for (const s of samples.slice(2))
    assert.ok(s.tickflow >= s.candles - 4, `the comparison fell behind the candles: ${seen}`)
  assert.deepEqual(errors, [])
})

/**
 * Opens AAA's 1s chart with the comparison on once it holds 4 candles, then samples the candles
 * and the comparison every 500 ms for 8 s (`onOpen` runs just before the first sample).
 */
async function sampleCompare(
  page: Page,
  address: string,
  onOpen = (): void => {},
): Promise<(Compare & { candles: number })[]> {
  await page.goto(`${address}/?symbol=AAA&interval=1s&compare=spark`)
  await page.waitForFunction('window.__tickflow.ready && window.__tickflow.candles >= 4', undefined, {
    timeout: 30_000,
  })
  onOpen()
  const samples: (Compare & { candles: number })[] = []
  for (let i = 0; i < 16; i++) {
    await sleep(500)
    const { tickflow, spark, differ } = await page.evaluate<Compare>('window.__tickflow.compare')
    samples.push({ candles: (await readState(page)).candles, tickflow, spark, differ })
  }
  return samples
}
