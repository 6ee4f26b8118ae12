// The one retry delay: the bounds and jitter of every retry loop, exactly as each wrote them before
// they shared util/backoff.ts, and the provider reconnect's Backoff built on it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Backoff, backoffDelay } from '../../src/util/backoff.ts'
import { reconnectOptions } from '../../src/sources/provider.ts'

test('backoff: exponential bound with full jitter, capped, reset, and a give-up count', () => {
  const o = reconnectOptions.parse({ initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 6 })
  const top = new Backoff(o, () => 0.999999)
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map(() => top.next()),
    [99, 199, 399, 799, 999, 999],
  )
  assert.equal(top.next(), undefined)
  top.reset()
  assert.equal(top.next(), 99)
  const zero = new Backoff(o, () => 0)
  assert.equal(zero.next(), 0)
  const unbounded = new Backoff(reconnectOptions.parse({}), Math.random)
  for (let i = 0; i < 2000; i++) {
    const d = unbounded.next()!
    assert.ok(d >= 0 && d < 30_000)
  }
  assert.deepEqual(reconnectOptions.parse(undefined), {
    initialDelayMs: 500,
    maxDelayMs: 30_000,
    resetAfterMs: 60_000,
    maxAttempts: 0,
  })
})

test('backoffDelay: doubling bound, capped, with full, equal or no jitter', () => {
  const attempts = [0, 1, 2, 3, 5, 6, 7, 8, 50, 2000]
  // The bus client and the source pump: 100 ms doubling to 5 s, full jitter.
  const bus = { initialMs: 100, maxMs: 5000, maxDoublings: 6, jitter: 'full' } as const
  assert.deepEqual(
    attempts.map((a) => backoffDelay(bus, a, () => 0.5)),
    [50, 100, 200, 400, 1600, 2500, 2500, 2500, 2500, 2500],
  )
  assert.deepEqual(
    attempts.map((a) => backoffDelay(bus, a, () => 0)),
    attempts.map(() => 0),
  )
  // The processor's steps: 100 ms doubling to 10 s (7 doublings), equal jitter.
  const step = { initialMs: 100, maxMs: 10_000, maxDoublings: 7, jitter: 'equal' } as const
  assert.deepEqual(
    attempts.map((a) => backoffDelay(step, a, () => 0)),
    [50, 100, 200, 400, 1600, 3200, 5000, 5000, 5000, 5000],
  )
  assert.deepEqual(
    attempts.map((a) => backoffDelay(step, a, () => 1)),
    [100, 200, 400, 800, 3200, 6400, 10_000, 10_000, 10_000, 10_000],
  )
  // The schema registry: 200 ms doubling to 10 s (6 doublings), equal jitter.
  const registry = { initialMs: 200, maxMs: 10_000, maxDoublings: 6, jitter: 'equal' } as const
  assert.deepEqual(
    attempts.map((a) => backoffDelay(registry, a, () => 0.5)),
    [150, 300, 600, 1200, 4800, 7500, 7500, 7500, 7500, 7500],
  )
  // The dashboard's live socket: 500 ms doubling to 10 s, no jitter.
  const live = { initialMs: 500, maxMs: 10_000, jitter: 'none' } as const
  assert.deepEqual(
    attempts.map((a) => backoffDelay(live, a)),
    [500, 1000, 2000, 4000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000],
  )
  // Each draw stays inside its bounds.
  for (let a = 0; a < 500; a++) {
    const d = backoffDelay(bus, a % 12)
    assert.ok(d >= 0 && d < 5000)
    const e = backoffDelay(step, a % 12)
    assert.ok(e >= 50 && e <= 10_000)
  }
})
