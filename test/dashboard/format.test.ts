// The dashboard's numbers: latency percentiles interpolated inside the histogram bucket that holds
// them (not the bucket's upper bound), and large numbers written as people read them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseMetrics, quantile } from '../../src/dashboard/metrics.ts'
import { compact, decimal } from '../../src/dashboard/format.ts'

const histogram = (labels: string) => `
tickflow_end_to_end_latency_seconds_bucket{${labels}le="0.01"} 0
tickflow_end_to_end_latency_seconds_bucket{${labels}le="0.05"} 40
tickflow_end_to_end_latency_seconds_bucket{${labels}le="0.1"} 90
tickflow_end_to_end_latency_seconds_bucket{${labels}le="0.5"} 100
tickflow_end_to_end_latency_seconds_bucket{${labels}le="+Inf"} 100
`

test('percentiles are interpolated within their bucket, over every label set', () => {
  const one = parseMetrics(histogram(''))
  // p50: rank 50 of 100 lies 10 of the 50 observations into (0.05, 0.1] → 0.05 + 0.05·10/50 = 0.06
  assert.ok(Math.abs(quantile(one, 'tickflow_end_to_end_latency_seconds', 0.5)! - 0.06) < 1e-12)
  // p99: rank 99 lies 9 of 10 into (0.1, 0.5] → 0.1 + 0.4·0.9 = 0.46
  assert.ok(Math.abs(quantile(one, 'tickflow_end_to_end_latency_seconds', 0.99)! - 0.46) < 1e-12)
  // p20: rank 20, half of the 40 in (0.01, 0.05] → 0.03
  assert.ok(Math.abs(quantile(one, 'tickflow_end_to_end_latency_seconds', 0.2)! - 0.03) < 1e-12)
  // Two label sets are one histogram of 200 observations with the same shape.
  const two = parseMetrics(histogram('source="a",') + histogram('source="b",'))
  assert.ok(Math.abs(quantile(two, 'tickflow_end_to_end_latency_seconds', 0.5)! - 0.06) < 1e-12)
  assert.equal(quantile(parseMetrics(''), 'tickflow_end_to_end_latency_seconds', 0.5), undefined)
})

test('numbers are compact: 51.61M, not 51608580', () => {
  assert.equal(compact(51_608_580), '51.61M')
  assert.equal(compact(2_500_000_000), '2.50B')
  assert.equal(compact(21_313), '21,313')
  assert.equal(compact(0.262), '0.262')
  assert.equal(decimal('189.3666666666666667'), '189.3667')
  assert.equal(decimal('61800.30'), '61800.30')
  assert.equal(decimal('51608580'), '51.61M')
})
