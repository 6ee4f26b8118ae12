// Finnhub's trade conditions (its own numbers, no tape) in the bars: each number whose SIP meaning
// has one effect in the CTA and UTP matrices changes a bar as that meaning does; a number without
// one counts in every field, and is counted and logged, not silent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EVERY_FIELD, US_EQUITY_RULES, effectOf } from '../../src/domain/conditions.ts'
import { aggregate } from '../../src/processor/aggregate.ts'
import { countUnmapped } from '../../src/processor/processor.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import type { Tick } from '../../src/domain/types.ts'
import { parseMicros } from '../../src/domain/time.ts'

// Finnhub number → high/low, last (open/close), volume, as the matrices give its meaning
// (written out here, not read from the table).
const MAPPED: Record<string, string> = {
  '1': 'YYY', // regular
  '2': 'YYY', // acquisition (UTP A)
  '3': 'NNY', // average price (CTA B, UTP W)
  '4': 'YYY', // bunched (UTP B)
  '5': 'NNY', // cash sale
  '6': 'YYY', // distribution (UTP D)
  '7': 'YYY', // automatic execution (CTA E)
  '8': 'YYY', // intermarket sweep
  '9': 'YNY', // bunched sold (UTP G)
  '10': 'NNY', // price variation
  '12': 'NNY', // odd lot
  '13': 'YYY', // rule 127 (CTA K)
  '14': 'YYY', // rule 155
  '15': 'YYY', // sold last
  '16': 'NNN', // market center official close
  '17': 'NNY', // next day
  '18': 'YYY', // market center opening trade (CTA O)
  '19': 'YYY', // opening prints (UTP O)
  '20': 'NNN', // market center official open
  '21': 'YNY', // prior reference price
  '22': 'YNY', // seller
  '23': 'YYY', // split trade (UTP S)
  '24': 'NNY', // form T
  '25': 'NNY', // extended hours, sold out of sequence
  '26': 'NNY', // contingent
  '28': 'YYY', // cross
  '29': 'YYY', // yellow flag (UTP Y)
  '30': 'YNY', // sold out of sequence
  '31': 'YYY', // stopped stock (UTP 1)
  '32': 'YNY', // derivatively priced
  '33': 'YYY', // market center re-opening trade (CTA 5)
  '34': 'YYY', // re-opening prints (UTP 5)
  '35': 'YYY', // market center closing trade (CTA 6)
  '36': 'YYY', // closing prints (UTP 6)
  '37': 'NNY', // qualified contingent
  '39': 'YYN', // corrected consolidated close
}
const UNMAPPED = ['11', '27', '38', '40', '41', '42']

function tick(ts: string, price: string, size: string, offset: number, conditions: string[]): Tick {
  return {
    conditions,
    symbol: 'AAPL',
    ts,
    micros: parseMicros(ts)!,
    tsMs: Date.parse(ts),
    price,
    size,
    source: 'finnhub',
    tradeId: String(offset),
    recvTs: null,
    topic: 'ticks',
    partition: 0,
    offset: BigInt(offset),
  } as Tick
}

/** A regular trade at 10 (100 shares), then a trade with `code` at 12 (5 shares), one minute. */
function minute(code: string) {
  const [bar] = aggregate(
    [
      tick('2026-11-24T15:00:01.000000Z', '10', '100', 0, ['finnhub:1']),
      tick('2026-11-24T15:00:02.000000Z', '12', '5', 1, [`finnhub:${code}`]),
    ],
    ['1m'],
    'UTC',
  )
  return bar!
}

for (const [code, flags] of Object.entries(MAPPED))
  test(`finnhub ${code} (${US_EQUITY_RULES.get(`finnhub:${code}`)?.name}): high/low ${flags[0]}, last ${flags[1]}, volume ${flags[2]}`, () => {
    assert.deepEqual(
      { ...effectOf('finnhub', [`finnhub:${code}`]) },
      { highLow: flags[0] === 'Y', last: flags[1] === 'Y', volume: flags[2] === 'Y' },
    )
    const bar = minute(code)
    assert.equal(bar.high, flags[0] === 'Y' ? '12' : '10')
    assert.equal(bar.close, flags[1] === 'Y' ? '12' : '10')
    assert.equal(bar.volume, flags[2] === 'Y' ? '105' : '100')
    assert.equal(bar.open, '10')
    assert.equal(bar.trades, 2)
  })

test('the examples of docs/analytics.md: regular + odd lot is volume only, regular + sweep every field', () => {
  assert.deepEqual(
    { ...effectOf('finnhub', ['finnhub:1', 'finnhub:12']) },
    { last: false, highLow: false, volume: true },
  )
  assert.equal(effectOf('finnhub', ['finnhub:1', 'finnhub:8']), EVERY_FIELD)
})

test('the rule table maps exactly the Finnhub numbers above', () => {
  const finnhub = [...US_EQUITY_RULES.keys()].filter((k) => k.startsWith('finnhub:'))
  assert.deepEqual(
    finnhub.sort(),
    Object.keys(MAPPED)
      .map((c) => `finnhub:${c}`)
      .sort(),
  )
})

test('a Finnhub number without a mapping counts in every field, in the counter and once in the log', async () => {
  for (const code of UNMAPPED) {
    assert.equal(effectOf('finnhub', [`finnhub:${code}`]), EVERY_FIELD)
    const bar = minute(code)
    assert.deepEqual([bar.high, bar.close, bar.volume], ['12', '12', '105'])
  }
  const metrics = createMetrics({ defaultMetrics: false })
  const warned: unknown[] = []
  const log = { warn: (o: unknown) => warned.push(o) } as never
  const seen = new Set<string>()
  const stored = [
    tick('2026-11-24T15:00:01.000000Z', '10', '1', 0, ['finnhub:1', 'finnhub:27']),
    tick('2026-11-24T15:00:02.000000Z', '10', '1', 1, ['finnhub:27', 'finnhub:41']),
    tick('2026-11-24T15:00:03.000000Z', '10', '1', 2, ['finnhub:12']),
  ]
  countUnmapped(stored, { metrics, log }, seen)
  countUnmapped(stored.slice(0, 1), { metrics, log }, seen)
  const text = await metrics.registry.metrics()
  const lines = text.split('\n').filter((l) => l.startsWith('tickflow_unmapped_conditions_total{'))
  assert.deepEqual(lines.sort(), [
    'tickflow_unmapped_conditions_total{source="finnhub",condition="finnhub:27"} 3',
    'tickflow_unmapped_conditions_total{source="finnhub",condition="finnhub:41"} 1',
  ])
  assert.deepEqual(warned, [
    { source: 'finnhub', condition: 'finnhub:27' },
    { source: 'finnhub', condition: 'finnhub:41' },
  ])
})
