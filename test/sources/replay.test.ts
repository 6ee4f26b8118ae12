import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../support/cli.ts'
import { binanceFeedTrades, dataFile } from '../support/data.ts'
import { openPglite } from '../../src/store/db.ts'
import { normaliseTs, readTrades, replayOptions, type ReplayRecord } from '../../src/sources/replay.ts'

async function collect(file: string, extra: Record<string, unknown> = {}): Promise<ReplayRecord[]> {
  const out: ReplayRecord[] = []
  for await (const r of readTrades(replayOptions.parse({ file, ...extra }))) out.push(r)
  return out
}

test('timestamps in seconds, ms, µs, ns and ISO become ISO with microseconds', () => {
  assert.equal(normaliseTs('1723161256'), '2024-08-08T23:54:16.000000Z')
  assert.equal(normaliseTs('1723161256.5'), '2024-08-08T23:54:16.500000Z')
  assert.equal(normaliseTs('1723161256322'), '2024-08-08T23:54:16.322000Z')
  assert.equal(normaliseTs('1723161256322123'), '2024-08-08T23:54:16.322123Z')
  assert.equal(normaliseTs('1723161255088176367'), '2024-08-08T23:54:15.088176Z')
  assert.equal(normaliseTs('2024-08-08T23:54:16.1Z'), '2024-08-08T23:54:16.100000Z')
  assert.equal(normaliseTs('2024-08-08 19:54:16.123456789-04:00'), '2024-08-08T23:54:16.123456Z')
  assert.equal(normaliseTs('2013-02-08'), '2013-02-08T00:00:00.000000Z')
  assert.equal(normaliseTs('tomorrow'), undefined)
})

test('CSV with other column names, mapped; gzip detected; bad rows passed on, not dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'trades.csv.gz')
  writeFileSync(
    file,
    gzipSync(
      'when,sym,px,qty,tid\n1723161256322,btcusdt,61800.30,0.006,5266583935\n"1723161256344",BTCUSDT,"61800.30",0.199,5266583936\n,BTCUSDT,1,1,x\n',
    ),
  )
  const recs = await collect(file, {
    columns: { ts: 'when', symbol: 'sym', price: 'px', size: 'qty', id: 'tid' },
    source: 'binance',
  })
  assert.deepEqual(recs[0], {
    trade: {
      v: 1,
      type: 'trade',
      symbol: 'BTCUSDT',
      ts: '2024-08-08T23:54:16.322000Z',
      price: '61800.30',
      size: '0.006',
      source: 'binance',
      id: '5266583935',
    },
    eventMs: 1723161256322,
  })
  assert.equal('trade' in recs[1]! && recs[1].trade.size, '0.199')
  assert.deepEqual(recs[2], {
    unparsed: { type: 'unparsed', key: 'BTCUSDT', line: ',BTCUSDT,1,1,x', reason: 'time "" cannot be read' },
  })
  await assert.rejects(
    collect(file, { columns: { ts: 'nope' } }),
    /column "nope" \(for ts\) is not in the file's header/,
  )
})

test('NDJSON with aliases and a Binance feed recording', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const nd = join(dir, 'a.ndjson')
  writeFileSync(nd, '{"s":"AAPL","t":"2026-11-24T15:30:00.5Z","p":"189.2","q":100}\n{"broken"\n')
  const recs = await collect(nd)
  assert.deepEqual(recs[0], {
    trade: {
      v: 1,
      type: 'trade',
      symbol: 'AAPL',
      ts: '2026-11-24T15:30:00.500000Z',
      price: '189.2',
      size: '100',
      source: 'replay',
    },
    eventMs: Date.parse('2026-11-24T15:30:00.5Z'),
  })
  assert.deepEqual(recs[1], {
    unparsed: {
      type: 'unparsed',
      key: '',
      line: '{"broken"',
      reason: "not JSON: Expected ':' after property name in JSON at position 9 (line 1 column 10)",
    },
  })
  const feed = join(dir, 'feed.txt')
  writeFileSync(
    feed,
    [
      '1723161255030314667 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"s":"BTCUSDT"}}',
      '1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}',
      '1723161255090000000 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","s":"BTCUSDT","b":"61800.20","a":"61800.30"}}',
    ].join('\n'),
  )
  const f = await collect(feed)
  assert.equal(f.length, 1)
  assert.deepEqual(f[0], {
    trade: {
      v: 1,
      type: 'trade',
      symbol: 'BTCUSDT',
      ts: '2024-08-08T23:54:16.322000Z',
      price: '61800.30',
      size: '0.006',
      source: 'replay',
      id: '5266583935',
    },
    eventMs: 1723161256322,
  })
})

test(
  'tickflow replay refuses a file it cannot read with one line, before starting anything',
  { timeout: 60_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-cli-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'no-header.csv'), '2013-10-08 09:30:00.015,185.17,100\n')
    writeFileSync(join(dir, 'local.csv'), 'symbol,time,price,size\nIBM,2013-10-08 09:30:00.015,185.17,100\n')
    const cases: [string[], string][] = [
      [
        ['no-header.csv', '--symbol', 'IBM'],
        'tickflow: the first line "2013-10-08 09:30:00.015,185.17,100" looks like data, not a header: give column positions (from 1), e.g. --columns ts=1,price=2,size=3 [TF_REPLAY_COLUMNS]',
      ],
      [['missing.csv'], 'tickflow: cannot read replay file "missing.csv": no such file [TF_FILE]'],
      [
        ['local.csv'],
        'tickflow: timestamp "2013-10-08 09:30:00.015" has no time zone: say which zone it is in with --timezone ZONE (an IANA name such as America/New_York, or UTC) [TF_REPLAY_TIME]',
      ],
      [
        ['local.csv', '--timezone', 'Nowhere/City'],
        'tickflow: invalid --timezone "Nowhere/City": not a known time zone (an IANA name such as America/New_York, or UTC) [TF_CONFIG]',
      ],
    ]
    for (const [args, line] of cases) {
      const run = await runCli(['replay', ...args], { KAFKA_BROKERS: '', DATABASE_URL: '' }, dir)
      assert.notEqual(run.code, 0, run.output)
      assert.equal(run.output.trimEnd(), line)
      // Refused before the store was opened: no data directory was made.
      assert.equal(existsSync(join(dir, 'data')), false, args.join(' '))
    }
  },
)

test(
  'an unparseable replay line is a dead letter (unparsed_record) holding the whole line, not a forged trade',
  { timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-unparsed-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    // Longer than the 120 characters the replay used to keep of such a line in a forged trade's id.
    const broken = `{"s":"AAPL","t":"2026-11-24T15:30:01Z","p":"189.3","q":5,"note":"${'x'.repeat(200)}"`
    const noPrice = '{"s":"MSFT","t":"2026-11-24T15:30:02Z","q":1}'
    writeFileSync(
      join(dir, 'a.ndjson'),
      ['{"s":"AAPL","t":"2026-11-24T15:30:00Z","p":"189.2","q":100}', broken, noPrice, ''].join('\n'),
    )
    const run = await runCli(['replay', 'a.ndjson'], { KAFKA_BROKERS: '', DATABASE_URL: '' }, dir)
    assert.equal(run.code, 0, run.output)
    const db = await openPglite(join(dir, 'data/pglite'))
    t.after(() => db.close())
    const ticks = await db.query<{ symbol: string; price: string }>('select symbol, price::text from ticks')
    assert.deepEqual(ticks, [{ symbol: 'AAPL', price: '189.2' }])
    const dead = await db.query<{ reason: string; detail: string; key: string; line: string }>(
      'select reason, detail, key, convert_from(payload, \'UTF8\') as line from dead_letters order by "offset"',
    )
    assert.deepEqual(dead, [
      {
        reason: 'unparsed_record',
        detail:
          "not JSON: Expected ',' or '}' after property value in JSON at position 266 (line 1 column 267)",
        key: '',
        line: broken,
      },
      { reason: 'unparsed_record', detail: 'no price', key: 'MSFT', line: noPrice },
    ])
  },
)

test('a conditions column is read: codes qualified by the tape column, or kept as written with their plan', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'trades.csv')
  writeFileSync(
    file,
    'symbol,ts,price,size,tape,conditions\n' +
      'AAPL,2026-11-24T20:59:59.1Z,189.20,100,C,"@ F"\n' +
      'IBM,2026-11-24T20:59:59.2Z,230.00,5,A,I\n' +
      'AAPL,2026-11-24T21:00:00Z,189.30,5000000,C,M\n' +
      'AAPL,2026-11-24T21:00:01Z,189.31,10,,UTP:I;UTP:T\n' +
      'AAPL,2026-11-24T21:00:02Z,189.32,10,C,\n',
  )
  const recs = await collect(file)
  const conditions = recs.map((r) => ('trade' in r ? (r.trade.conditions ?? null) : 'unparsed'))
  assert.deepEqual(conditions, [['UTP:@', 'UTP:F'], ['CTA:I'], ['UTP:M'], ['UTP:I', 'UTP:T'], null])

  const nd = join(dir, 'trades.ndjson')
  writeFileSync(
    nd,
    '{"s":"AAPL","t":"2026-11-24T21:00:00Z","p":"1.5","q":"3","tape":"B","conditions":["@","4"]}\n',
  )
  const [rec] = await collect(nd)
  assert.deepEqual(rec && 'trade' in rec ? rec.trade.conditions : undefined, ['CTA:@', 'CTA:4'])
})

test('a bare sale condition without a tape stops the replay with one line instead of a guess', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'trades.csv')
  writeFileSync(file, 'symbol,ts,price,size,conditions\nAAPL,2026-11-24T21:00:00Z,189.30,100,I\n')
  await assert.rejects(collect(file), {
    code: 'TF_REPLAY_COLUMNS',
    message:
      'sale condition "I" has no tape: add a tape column (A, B or C), or write the codes with their plan (UTP:I, CTA:I)',
  })
})

test('tab-, semicolon- and pipe-separated files read as their comma-separated twin', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // The recorded Binance feed's first 200 trades, a quoted cell among them.
  const trades = binanceFeedTrades(dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz').path).slice(0, 200)
  const write = (name: string, d: string): string => {
    const rows = trades.map((x, i) => [x.ts, x.symbol, i === 7 ? `"${x.id}"` : x.id, x.price, x.size].join(d))
    const file = join(dir, name)
    writeFileSync(file, [['ts', 'symbol', 'id', 'price', 'size'].join(d), ...rows].join('\n') + '\n')
    return file
  }
  const comma = await collect(write('trades.csv', ','))
  assert.equal(comma.length, 200)
  assert.deepEqual(
    comma.map((r) => ('trade' in r ? [r.trade.id, r.trade.price, r.trade.size] : r.unparsed.reason)),
    trades.map((x) => [x.id, x.price, x.size]),
  )
  // Seen before: each was refused, its header read as one column ("ts\tsymbol\tid…").
  for (const [name, d] of [
    ['trades.tsv', '\t'],
    ['trades-semicolon.csv', ';'],
    ['trades-pipe.txt', '|'],
  ] as const)
    assert.deepEqual(await collect(write(name, d)), comma, name)
})

test('a byte-order mark before the first line is not part of it, in every format', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const bom = '\uFEFF'
  const files: [string, string][] = [
    ['trades.ndjson', '{"symbol":"AAPL","ts":"2026-11-24T15:30:00Z","price":"189.5","size":"10"}\n'],
    ['trades.csv', 'ts,symbol,price,size\r\n2026-11-24T15:30:00Z,AAPL,189.5,10\r\n'],
    [
      'feed.txt',
      '1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}\n',
    ],
  ]
  for (const [name, text] of files) {
    const file = join(dir, name)
    writeFileSync(file, bom + text)
    const recs = await collect(file)
    // Seen before: the NDJSON line was dead-lettered as not JSON, the feed read as a CSV.
    assert.equal(recs.length, 1, name)
    assert.ok('trade' in recs[0]!, `${name}: ${JSON.stringify(recs[0])}`)
  }
})
