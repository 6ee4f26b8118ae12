// Abusive and odd API parameters against a real server on real PostgreSQL: the inputs that used to
// give 500 (or a silently wrong answer) get 400 naming the parameter, and a property-based fuzz of
// every parameter of every endpoint never gets a 5xx and always names the parameter in a 400.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { setup } from '../support/api.ts'

const b64 = (s: string): string => Buffer.from(s).toString('base64url')

test('values that overflow, do not exist or cannot be stored are 400s naming the parameter', async (t) => {
  const { app } = await setup(t)
  const cases: [string, string][] = [
    ['/api/v1/trades?symbol=AAPL&limit=Infinity', 'limit'],
    ['/api/v1/trades?symbol=AAPL&limit=1e400', 'limit'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&limit=-Infinity', 'limit'],
    ['/api/v1/trades?symbol=AAPL&from=0000-01-01', 'from'],
    [`/api/v1/trades?symbol=AAPL&to=${encodeURIComponent('0000-01-01T00:00:00+14:00')}`, 'to'],
    [`/api/v1/trades?symbol=AAPL&to=${encodeURIComponent('0001-01-01T00:00:00+14:00')}`, 'to'],
    ['/api/v1/bars?symbol=AAPL&interval=1d&from=2026-02-30', 'from'],
    ['/api/v1/bars?symbol=AAPL&interval=1d&to=2025-02-29', 'to'],
    ['/api/v1/bars?symbol=AAPL&interval=1d&from=99999999999999999', 'from'],
    [
      `/api/v1/trades?symbol=AAPL&cursor=${b64('n|2026-11-24T15:30:00.000000Z|0|99999999999999999999')}`,
      'cursor',
    ],
    [`/api/v1/trades?symbol=AAPL&cursor=${b64('n|2026-11-24T15:30:00.000000Z|9999999999|1')}`, 'cursor'],
    [`/api/v1/trades?symbol=AAPL&cursor=${b64('2026-11-24T15:30:00.000000Z|0|1')}`, 'cursor'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&cursor=OTk5OTk', 'cursor'],
    [`/api/v1/bars?symbol=AAPL&interval=1m&cursor=${b64('n|99999')}`, 'cursor'],
    ['/api/v1/dead-letters?limit=501', 'limit'],
    ['/api/v1/dead-letters?reason=DROP%20TABLE', 'reason'],
    [`/api/v1/dead-letters?cursor=${b64('n|2026-11-24T15:30:00.000000Z|-1')}`, 'cursor'],
    // A range that ends before it starts was an empty 200, as if there were no data.
    ['/api/v1/trades?symbol=AAPL&from=2026-11-25&to=2026-11-24', 'to'],
    ['/api/v1/bars?symbol=AAPL&interval=1m&from=2026-11-24T15:31:00Z&to=2026-11-24T15:30:00Z', 'to'],
    ['/api/v1/indicators?symbol=AAPL&interval=1m&name=sma&from=2026-11-25&to=1764000000000', 'to'],
    ['/api/v1/dead-letters?from=2026-11-25&to=2026-11-24&format=csv', 'to'],
  ]
  for (const [url, param] of cases) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 400, `${url}: ${res.body}`)
    const body = res.json<{ error: string; param: string; message: string }>()
    assert.equal(body.param, param, url)
    assert.match(body.message, new RegExp(`^${param} `), url)
  }
  // Leap days that exist are accepted, and a 29 February selects that day exactly.
  const leap = await app.inject('/api/v1/bars?symbol=AAPL&interval=1d&from=2024-02-29&to=2024-03-01')
  assert.equal(leap.statusCode, 200)
  // Fractions beyond microseconds round the bound up: 15:30:00.1000001 excludes the 15:30:00.100000 trade.
  const fine = await app.inject(
    '/api/v1/trades?symbol=AAPL&from=2026-11-24T15:30:00.1000001Z&to=2026-11-24T15:31:00Z',
  )
  assert.deepEqual(
    fine.json<{ data: { price: string }[] }>().data.map((x) => x.price),
    ['189.50'],
  )
  const exact = await app.inject(
    '/api/v1/trades?symbol=AAPL&from=2026-11-24T15:30:00.1Z&to=2026-11-24T15:31:00Z',
  )
  assert.deepEqual(
    exact.json<{ data: { price: string }[] }>().data.map((x) => x.price),
    ['189.10', '189.50'],
  )
})

// Values that stress the parsers: overflowing numbers, impossible dates, offsets past the year
// range, cursors of every shape, and plain random text.
const special = fc.constantFrom(
  'Infinity',
  '-Infinity',
  'NaN',
  '1e400',
  '-0',
  '0',
  '1',
  '5000',
  '5001',
  '9007199254740993',
  '0x10',
  '',
  ' ',
  'asc',
  'desc',
  'csv',
  'json',
  '1s',
  '1d',
  'AAPL',
  'aapl',
  'MSFT,AAPL',
  '0000-01-01',
  '2026-02-30',
  '9999-12-31T23:59:59.9999999Z',
  '9999-12-31T23:59:59-14:00',
  '0001-01-01T00:00:00+14:00',
  'OTk5OTk',
  '%00',
  '\u0000',
  'bad_price',
)
const dateLike = fc
  .tuple(
    fc.integer({ min: 0, max: 10000 }),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 }),
    fc.integer({ min: 0, max: 25 }),
    fc.integer({ min: 0, max: 61 }),
    fc.constantFrom('', 'Z', '+14:00', '-23:59', '+99:99', '.9999999Z', '.5+05:30'),
  )
  .map(
    ([y, m, d, h, mi, z]) =>
      `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:00${z}`,
  )
const cursorLike = fc
  .tuple(
    fc.constantFrom('n', 'p', 'x', ''),
    fc.oneof(dateLike, fc.string()),
    fc.oneof(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String), fc.string()),
    fc.oneof(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String), fc.string()),
    fc.integer({ min: 1, max: 4 }),
  )
  .map(([d, ...rest]) => b64([d, ...rest.slice(0, 3).slice(0, rest[3])].join('|')))
const value = fc.oneof(
  special,
  dateLike,
  cursorLike,
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt().map(String),
)
const valueOrList = fc.oneof(
  { weight: 6, arbitrary: value },
  { weight: 1, arbitrary: fc.array(value, { minLength: 2, maxLength: 3 }) },
)

const endpoints: { path: string; params: string[]; required: Record<string, string> }[] = [
  {
    path: '/api/v1/trades',
    params: ['from', 'to', 'order', 'limit', 'cursor', 'format'],
    required: { symbol: 'AAPL' },
  },
  {
    path: '/api/v1/bars',
    params: ['from', 'to', 'order', 'limit', 'cursor', 'format'],
    required: { symbol: 'AAPL', interval: '1m' },
  },
  {
    path: '/api/v1/dead-letters',
    params: ['reason', 'from', 'to', 'order', 'limit', 'cursor', 'format'],
    required: {},
  },
  { path: '/api/v1/quotes/latest', params: [], required: { symbols: 'AAPL,MSFT' } },
  { path: '/api/v1/symbols', params: [], required: {} },
  { path: '/api/v1/stats', params: [], required: {} },
  { path: '/api/v1/dead-letters/reasons', params: [], required: {} },
]

test('an unknown path is a 404 in the API error shape, naming it and where the endpoints are', async (t) => {
  const { app } = await setup(t)
  for (const url of ['/api/v1/ticks?symbol=AAPL', '/api/v1', '/api/v2/bars']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 404, url)
    assert.deepEqual(res.json(), {
      error: 'not_found',
      message: `no endpoint GET ${url.split('?')[0]}: the endpoints are listed at /docs`,
    })
  }
  const post = await app.inject({ method: 'POST', url: '/api/v1/bars' })
  assert.equal(post.statusCode, 404)
  assert.equal(
    post.json<{ message: string }>().message,
    'no endpoint POST /api/v1/bars: the endpoints are listed at /docs',
  )
  // A range that is merely empty (from = to) is still an empty page.
  const empty = await app.inject('/api/v1/trades?symbol=AAPL&from=2026-11-24&to=2026-11-24')
  assert.equal(empty.statusCode, 200)
  assert.deepEqual(empty.json<{ data: unknown[] }>().data, [])
})

test('fuzzing every parameter of every endpoint: never a 5xx, every 400 names a parameter it was sent or needs', async (t) => {
  const { app } = await setup(t)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  for (const ep of endpoints) {
    const names = [...ep.params, ...Object.keys(ep.required)]
    const query = fc.record(
      Object.fromEntries([
        ...names.map((n) => [n, fc.option(valueOrList, { nil: undefined, freq: 2 })] as const),
        ...Object.entries(ep.required).map(
          ([n, v]) =>
            [
              n,
              fc.oneof(
                { weight: 3, arbitrary: fc.constant(v) },
                { weight: 1, arbitrary: fc.option(valueOrList, { nil: undefined }) },
              ),
            ] as const,
        ),
        [
          'extra',
          fc.option(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), value), { nil: undefined, freq: 8 }),
        ],
      ]),
    )
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const params = new URLSearchParams()
        for (const [k, v] of Object.entries(q)) {
          if (v === undefined) continue
          if (k === 'extra') params.append(...(v as [string, string]))
          else for (const one of Array.isArray(v) ? v : [v]) params.append(k, one)
        }
        const url = `${base}${ep.path}?${params.toString()}`
        const res = await fetch(url)
        const body = await res.text()
        assert.ok(res.status < 500, `${res.status} for ${url}: ${body}`)
        if (res.status === 400) {
          const e = JSON.parse(body) as { param: string; message: string }
          assert.ok([...params.keys(), ...names].includes(e.param), `${url}: param ${e.param}`)
          assert.ok(e.message.startsWith(e.param), `${url}: ${e.message}`)
        } else assert.equal(res.status, 200, `${url}: ${body}`)
      }),
      { numRuns: 300 },
    )
  }
})
