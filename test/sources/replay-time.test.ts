// How a replay reads times, prices and columns: exact values, and the one-line refusals.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Temporal } from 'temporal-polyfill'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { timeReader, isoFromNs } from '../../src/sources/replay-time.ts'
import { parseDivisor, priceReader, replayFlagOptions } from '../../src/sources/replay-fields.ts'
import { readTrades, replayOptions, checkReplayFile } from '../../src/sources/replay.ts'

const read = (settings: Parameters<typeof timeReader>[0], ...values: string[]) => {
  const r = timeReader(settings)
  return values.map((v) => r(v))
}

test('times with a zone or an offset are read as written, to the microsecond', () => {
  assert.deepEqual(
    read(
      {},
      '2026-11-24T14:30:00.123456Z',
      '2026-11-24 09:30:01.5-05:00',
      '2026-11-24T15:30:02+0100',
      '2026-11-24T20:00:00+05:30',
      '2026-11-24T14:30:00.1234567891Z', // 10 fraction digits: not a timestamp
      '2026-11-24T14:30:00.123456789z',
    ),
    [
      '2026-11-24T14:30:00.123456Z',
      '2026-11-24T14:30:01.500000Z',
      '2026-11-24T14:30:02.000000Z',
      '2026-11-24T14:30:00.000000Z',
      undefined,
      '2026-11-24T14:30:00.123456Z',
    ],
  )
})

test('a zone-less time is refused at the first row without --timezone, read in the zone with it', () => {
  assert.throws(
    () => read({}, '2013-10-08 09:30:00.015'),
    (err: Error & { code?: string }) =>
      err.code === 'TF_REPLAY_TIME' &&
      err.message ===
        'timestamp "2013-10-08 09:30:00.015" has no time zone: say which zone it is in with --timezone ZONE (an IANA name such as America/New_York, or UTC)',
  )
  assert.throws(() => read({}, '2013-10-08'), /has no time zone/)
  // An empty or garbled first row does not waive the question for the rows after it.
  assert.throws(() => read({}, '', 'soon', '2013-10-08 09:30:00'), /"2013-10-08 09:30:00" has no time zone/)
  assert.throws(() => read({}, '', '34200015'), /"34200015" \(8 digits\) is not clearly seconds/)
  // Once the first row had a zone, a later zone-less row is a bad row (dead-lettered), not a guess.
  assert.deepEqual(read({}, '2013-10-08T13:30:00Z', '2013-10-08 09:30:00'), [
    '2013-10-08T13:30:00.000000Z',
    undefined,
  ])
  assert.deepEqual(
    read(
      { timezone: 'America/New_York' },
      '2013-10-08 09:30:00.015',
      '2013-12-02 09:30:00.000001',
      '2013-10-08',
      '2013-02-30 09:30:00',
    ),
    ['2013-10-08T13:30:00.015000Z', '2013-12-02T14:30:00.000001Z', '2013-10-08T04:00:00.000000Z', undefined],
  )
})

test('a local time the clocks skipped is not guessed: it cannot be read, and the reader says why', () => {
  const r = timeReader({ timezone: 'America/New_York' })
  assert.equal(r('2024-03-10 01:59:59.999999'), '2024-03-10T06:59:59.999999Z')
  assert.equal(r.why, undefined)
  assert.equal(r('2024-03-10 02:30:00'), undefined)
  assert.equal(
    r.why,
    'time "2024-03-10 02:30:00" does not exist in America/New_York: the clocks went forward over it',
  )
  assert.equal(r('2024-03-10 03:00:00'), '2024-03-10T07:00:00.000000Z')
  assert.equal(r.why, undefined)
})

// Seen before: every row of the hour New York clocks repeat on 2024-11-03 (01:00-01:59, twice) was
// dead-lettered, so a zone-less recording of a 24-hour market lost two hours of that day.
test('a local time the clocks repeated is read by the order of the rows: first pass, then second', () => {
  const night = [
    '2024-11-03 00:40:00',
    '2024-11-03 01:00:00',
    '2024-11-03 01:20:00',
    '2024-11-03 01:40:00.5',
    '2024-11-03 01:40:00.2', // a little out of order: still the first pass
    '2024-11-03 01:59:59.999999',
    '2024-11-03 01:00:00', // the clocks went back: the second pass
    '2024-11-03 01:20:00',
    '2024-11-03 01:40:00',
    '2024-11-03 02:00:00',
  ]
  const utc = [
    '2024-11-03T04:40:00.000000Z',
    '2024-11-03T05:00:00.000000Z',
    '2024-11-03T05:20:00.000000Z',
    '2024-11-03T05:40:00.500000Z',
    '2024-11-03T05:40:00.200000Z',
    '2024-11-03T05:59:59.999999Z',
    '2024-11-03T06:00:00.000000Z',
    '2024-11-03T06:20:00.000000Z',
    '2024-11-03T06:40:00.000000Z',
    '2024-11-03T07:00:00.000000Z',
  ]
  assert.deepEqual(read({ timezone: 'America/New_York' }, ...night), utc)
  // A file sorted by symbol, then time: each symbol's night is read on its own.
  const r = timeReader({ timezone: 'America/New_York' })
  assert.deepEqual([...night.map((v) => r(v, 'AAA')), ...night.map((v) => r(v, 'BBB'))], [...utc, ...utc])
  // A time of day on that date, as exchange files write them, the same way.
  const tod = timeReader({ timezone: 'America/New_York', date: '2024-11-03', tsUnit: 'ms' })
  assert.deepEqual(
    ['01:59:00', '01:01:00', String(90 * 60_000)].map((v) => tod(v)),
    ['2024-11-03T05:59:00.000000Z', '2024-11-03T06:01:00.000000Z', '2024-11-03T06:30:00.000000Z'],
  )
})

test('numbers: the unit from --ts-unit or an unambiguous magnitude, exact to the microsecond', () => {
  assert.deepEqual(read({}, '1723161256', '1723161256.5'), [
    '2024-08-08T23:54:16.000000Z',
    '2024-08-08T23:54:16.500000Z',
  ])
  assert.deepEqual(read({}, '1723161256322'), ['2024-08-08T23:54:16.322000Z'])
  assert.deepEqual(read({}, '1723161256322123'), ['2024-08-08T23:54:16.322123Z'])
  assert.deepEqual(read({}, '1723161255088176367', '1723161255088176999'), [
    '2024-08-08T23:54:15.088176Z',
    '2024-08-08T23:54:15.088176Z',
  ])
  // The unit found at the first row holds for the file.
  assert.deepEqual(read({}, '1723161256', '946684800'), [
    '2024-08-08T23:54:16.000000Z',
    '2000-01-01T00:00:00.000000Z',
  ])
  for (const v of ['34200015', '946684800', '17231612563', '172316125632212345678'])
    assert.throws(() => read({}, v), /is not clearly seconds, milliseconds, microseconds or nanoseconds/)
  assert.deepEqual(read({ tsUnit: 'ms' }, '34200015', '1723161256322.5'), [
    '1970-01-01T09:30:00.015000Z',
    '2024-08-08T23:54:16.322500Z',
  ])
  assert.deepEqual(read({ tsUnit: 's' }, '946684800'), ['2000-01-01T00:00:00.000000Z'])
  assert.deepEqual(read({ tsUnit: 'us' }, '1'), ['1970-01-01T00:00:00.000001Z'])
})

test('times of day on --date in --timezone: clock times and counts since midnight', () => {
  const ny = { date: '2013-10-08', timezone: 'America/New_York' }
  assert.deepEqual(read({ ...ny, tsUnit: 'ms' }, '34200015', '57599999', '86400000', 'x'), [
    '2013-10-08T13:30:00.015000Z',
    '2013-10-08T19:59:59.999000Z',
    undefined,
    undefined,
  ])
  assert.deepEqual(read({ ...ny, tsUnit: 'us' }, '34200000001'), ['2013-10-08T13:30:00.000001Z'])
  assert.deepEqual(read(ny, '09:30:00.015', '9:30', '16:00:00.123456789'), [
    '2013-10-08T13:30:00.015000Z',
    '2013-10-08T13:30:00.000000Z',
    '2013-10-08T20:00:00.123456Z',
  ])
  assert.throws(
    () => read(ny, '34200015'),
    /time of day "34200015" is a number: say what it counts with --ts-unit/,
  )
  // A day when the clocks change: 34,200,000 ms is still 09:30 on the clock.
  assert.deepEqual(read({ date: '2024-03-10', timezone: 'America/New_York', tsUnit: 'ms' }, '34200000'), [
    '2024-03-10T13:30:00.000000Z',
  ])
})

test('isoFromNs is exact for the epoch, before it and far after it', () => {
  assert.equal(isoFromNs(0n), '1970-01-01T00:00:00.000000Z')
  assert.equal(isoFromNs(-1n), '1969-12-31T23:59:59.999999Z')
  assert.equal(isoFromNs(4102444799999999999n), '2099-12-31T23:59:59.999999Z')
})

test('--price-divisor divides integer prices exactly; the first non-integer price is refused', () => {
  assert.deepEqual(parseDivisor('10000'), { decimals: 4, multiplier: 1n })
  assert.deepEqual(parseDivisor('256'), { decimals: 8, multiplier: 390625n })
  assert.equal(parseDivisor('3'), undefined)
  assert.equal(parseDivisor('0'), undefined)
  assert.equal(parseDivisor('1.5'), undefined)
  const r = priceReader('10000')
  assert.deepEqual(
    ['1892300', '5', '12345678901234567890', '18923.5'].map((v) => r(v)),
    ['189.2300', '0.0005', '1234567890123456.7890', undefined],
  )
  assert.deepEqual(['1', '3'].map(priceReader('256')), ['0.00390625', '0.01171875'])
  assert.deepEqual(['42'].map(priceReader('1')), ['42'])
  assert.deepEqual(['189.23'].map(priceReader(undefined)), ['189.23'])
  assert.throws(() => priceReader('10000')('189.23'), /price "189.23" is not an integer/)
})

test('bad replay flags are one line naming the flag', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ timezone: 'Mars/Olympus' }, /^invalid --timezone "Mars\/Olympus": not a known time zone/],
    [{ 'ts-unit': 'min' }, /^invalid --ts-unit "min": one of s, ms, us, ns$/],
    [{ date: '2013-02-30', timezone: 'UTC' }, /^invalid --date "2013-02-30": expected YYYY-MM-DD$/],
    [{ date: '2013-10-08' }, /^--date needs --timezone/],
    [{ 'price-divisor': '3' }, /^invalid --price-divisor "3"/],
  ]
  for (const [flags, message] of cases)
    assert.throws(
      () => replayFlagOptions(flags),
      (err: Error & { code?: string }) => {
        return err.code === 'TF_CONFIG' && message.test(err.message)
      },
    )
  assert.deepEqual(replayFlagOptions({ timezone: 'UTC', 'ts-unit': 'ns' }), {
    timezone: 'UTC',
    tsUnit: 'ns',
    date: undefined,
    priceDivisor: undefined,
  })
})

test('column positions read a file without a header; its first line is a trade', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'no-header.csv')
  writeFileSync(file, '100,IBM,2013-10-08T13:30:00.015Z,185.17\n200,IBM,2013-10-08T13:30:00.016Z,185.18\n')
  const o = replayOptions.parse({ file, columns: { size: '1', symbol: '2', ts: '3', price: '4' } })
  const trades = []
  for await (const r of readTrades(o)) if ('trade' in r) trades.push(r.trade)
  assert.deepEqual(
    trades.map((x) => [x.symbol, x.ts, x.price, x.size]),
    [
      ['IBM', '2013-10-08T13:30:00.015000Z', '185.17', '100'],
      ['IBM', '2013-10-08T13:30:00.016000Z', '185.18', '200'],
    ],
  )
  const refused = async (options: Record<string, unknown>, message: RegExp) =>
    assert.rejects(checkReplayFile(replayOptions.parse({ file, ...options })), message)
  await refused({ symbol: 'IBM' }, /the first line "100,IBM,2013-10-08T13:30:00.015Z,185.17" looks like data/)
  await refused({ columns: { ts: '3', price: 'px' } }, /some columns by name and some by position/)
  await refused(
    { columns: { ts: '3', price: '4', size: '1' } },
    /no symbol column: give the symbol with --symbol/,
  )
  await refused({ columns: { ts: '0', price: '4', size: '1' } }, /positions count from 1/)
  await refused({ file: join(dir, 'missing.csv') }, /cannot read replay file .*missing\.csv: no such file/)
})

test('any wall-clock time in any zone, any fraction: the same instant as Temporal computes it, to the microsecond', () => {
  const zones = ['UTC', 'America/New_York', 'Asia/Kathmandu', 'Australia/Adelaide', 'Europe/London']
  fc.assert(
    fc.property(
      fc.date({
        min: new Date('1901-01-01T00:00:00Z'),
        max: new Date('2099-12-31T00:00:00Z'),
        noInvalidDate: true,
      }),
      fc.constantFrom(...zones),
      fc.stringMatching(/^\d{0,9}$/),
      fc.constantFrom('T', ' '),
      (date, zone, frac, sep) => {
        const local = date.toISOString().slice(0, 19).replace('T', sep)
        const raw = frac ? `${local}.${frac}` : local
        const [got] = read({ timezone: zone }, raw)
        const digits = frac.padEnd(9, '0')
        const [day, time] = local.split(sep) as [string, string]
        const [y, mo, d] = day.split('-').map(Number) as [number, number, number]
        const [h, mi, s] = time.split(':').map(Number) as [number, number, number]
        let expected: string | undefined
        try {
          const plain = Temporal.PlainDateTime.from(
            {
              year: y,
              month: mo,
              day: d,
              hour: h,
              minute: mi,
              second: s,
              millisecond: Number(digits.slice(0, 3)),
              microsecond: Number(digits.slice(3, 6)),
              nanosecond: Number(digits.slice(6, 9)),
            },
            { overflow: 'reject' },
          )
          // A time the clocks repeated, alone in its file, is the first pass; one they skipped is
          // not read.
          const zoned = plain.toZonedDateTime(zone, { disambiguation: 'earlier' })
          expected = zoned.toPlainDateTime().equals(plain)
            ? zoned.toInstant().toString({ fractionalSecondDigits: 6, roundingMode: 'trunc' })
            : undefined
        } catch {
          expected = undefined // an impossible date
        }
        assert.equal(got, expected)
      },
    ),
    { numRuns: 3000 },
  )
})
