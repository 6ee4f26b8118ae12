// A source is one file: what it declares (settings, summary, doctor check, how it is built) is all
// the registry needs to put it in help, doctor, docs/configuration.md and .env.example, and to
// build it from flags, environment and .env. The providers' options that had no setting before
// (quotes, bars, zero-volume updates) are reachable.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigWith } from '../../src/config/load.ts'
import { registry, sourceRegistry } from '../../src/sources/registry.ts'
import { generalHelp } from '../../src/cli/help.ts'
import { commands } from '../../src/cli/commands/index.ts'
import { doctorChecks } from '../../src/cli/doctor.ts'
import { envExample, formattedConfigDocs } from '../../src/cli/config-docs.ts'
import { isUnparsed, type Trade, type UnparsedRecord } from '../../src/domain/trade.ts'
import { tickerbox } from '../support/providers/tickerbox.ts'
import { harness } from '../support/providers/server.ts'

const withTickerbox = sourceRegistry([...Object.values(registry.adapters), tickerbox as never])
const load = (env: Record<string, string>) =>
  loadConfigWith({ env, dotenvPath: '/nonexistent' }, withTickerbox.settings)

test('a source registered only in its own file appears in help, docs and .env.example', async () => {
  const help = generalHelp(commands, withTickerbox)
  assert.match(help, /^ {2}tickerbox {5}Tickerbox test feed \(token\)$/m)
  assert.match(help, /^ {16}TICKERBOX_TOKEN \(required\), TICKERBOX_URL, TICKERBOX_PRICE, TICKERBOX_ODD$/m)
  assert.match(
    help,
    /--source +TICKFLOW_SOURCE +where trades come from: simulator, replay, binance, finnhub, alpaca, polygon, alphavantage, tickerbox$/m,
  )
  assert.doesNotMatch(generalHelp(commands), /tickerbox/i, 'the real help does not know it')

  const docs = await formattedConfigDocs(withTickerbox)
  assert.match(
    docs,
    /^\| `tickerbox\.token` +\| — +\| `TICKERBOX_TOKEN` +\| unset +\| tickerbox: Tickerbox token \(required by --source tickerbox\) \(secret: never shown\) +\|$/m,
  )
  assert.match(
    docs,
    /^\| `tickerbox\.odd` +\| — +\| `TICKERBOX_ODD` +\| unset +\| tickerbox: odd lots only +\|$/m,
  )
  assert.match(
    docs,
    /^\| `tickerbox` +\| Tickerbox test feed \(token\) +\| `TICKERBOX_TOKEN`, `TICKERBOX_URL`, `TICKERBOX_PRICE`, `TICKERBOX_ODD` +\|$/m,
  )
  assert.doesNotMatch(await formattedConfigDocs(), /tickerbox/i)

  const env = envExample(withTickerbox)
  assert.ok(
    env.endsWith(
      '# tickerbox: Tickerbox test feed (token)\nTICKERBOX_TOKEN=\nTICKERBOX_URL=\nTICKERBOX_PRICE=\nTICKERBOX_ODD=\n',
    ),
    env.slice(-300),
  )
  assert.doesNotMatch(envExample(), /TICKERBOX/)
})

test('a source registered only in its own file is checked by doctor with its own check', async () => {
  const missing = load({ TICKFLOW_SOURCE: 'tickerbox' })
  const before = await doctorChecks(missing.config, missing.extra, withTickerbox)
  assert.deepEqual(before.at(-1), { name: 'tickerbox', status: 'FAIL', detail: 'TICKERBOX_TOKEN is not set' })

  const set = load({
    TICKFLOW_SOURCE: 'tickerbox',
    TICKERBOX_TOKEN: 's3cret',
    TICKERBOX_URL: 'https://127.0.0.1:1/x',
  })
  const after = await doctorChecks(set.config, set.extra, withTickerbox)
  assert.deepEqual(after.at(-1), {
    name: 'tickerbox',
    status: 'ok',
    detail: 'token of 6 characters for https://127.0.0.1:1/x',
  })
  assert.deepEqual(
    after.map((c) => c.status),
    after.map(() => 'ok'),
  )
})

test('doctor derives the check of a provider without one of its own from its required settings', async () => {
  const none = load({ TICKFLOW_SOURCE: 'alpaca', ALPACA_KEY_ID: 'k' })
  assert.deepEqual((await doctorChecks(none.config, none.extra)).at(-1), {
    name: 'alpaca',
    status: 'FAIL',
    detail: '--source alpaca needs ALPACA_SECRET_KEY',
  })
  const both = load({ TICKFLOW_SOURCE: 'alpaca', ALPACA_KEY_ID: 'k', ALPACA_SECRET_KEY: 's' })
  assert.deepEqual((await doctorChecks(both.config, both.extra)).at(-1), {
    name: 'alpaca',
    status: 'ok',
    detail: 'ALPACA_KEY_ID and ALPACA_SECRET_KEY is set',
  })
  const binance = load({ TICKFLOW_SOURCE: 'binance' })
  assert.deepEqual((await doctorChecks(binance.config, binance.extra)).at(-1), {
    name: 'binance',
    status: 'ok',
    detail: 'needs no credentials',
  })
})

test('a source registered only in its own file is built from its settings; bad or missing ones name the variable', async () => {
  const { config, extra } = load({
    TICKFLOW_SYMBOLS: 'AAA,BBB',
    TICKERBOX_TOKEN: 't',
    TICKERBOX_PRICE: '12.50',
    TICKERBOX_ODD: 'yes',
  })
  const options = tickerbox.options.parse({
    symbols: config.symbols,
    ...withTickerbox.optionsOf('tickerbox', extra),
  })
  assert.deepEqual(options, {
    symbols: ['AAA', 'BBB'],
    token: 't',
    baseUrl: 'https://tickerbox.invalid/feed',
    price: '12.50',
    odd: true,
  })
  const h = harness()
  const got: (Trade | UnparsedRecord)[] = []
  for await (const batch of tickerbox.create(options, h.deps).batches()) got.push(...batch)
  assert.ok(!got.some(isUnparsed))
  assert.deepEqual(
    (got as Trade[]).map((t) => `${t.symbol}|${t.ts}|${t.price}|${t.size}`),
    ['AAA|2024-01-02T15:00:00.000000Z|12.50|7', 'BBB|2024-01-02T15:00:01.000000Z|12.50|7'],
  )
  assert.throws(() => withTickerbox.optionsOf('tickerbox', load({}).extra), {
    name: 'ConfigError',
    message: '--source tickerbox needs TICKERBOX_TOKEN',
  })
  assert.throws(() => load({ TICKERBOX_PRICE: '12.5' }), {
    name: 'ConfigError',
    message: 'invalid TICKERBOX_PRICE: "12.5" expected a price such as 1.00',
  })
  assert.throws(() => load({ TICKERBOX_TOKEN: 'hidden-value', TICKERBOX_URL: 'nope' }), {
    message: 'invalid TICKERBOX_URL: "nope" Invalid URL',
  })
})

test("the providers' quotes, bars and zero-volume options are settings", () => {
  const env = {
    FINNHUB_API_KEY: 'f',
    FINNHUB_ZERO_VOLUME: 'true',
    BINANCE_QUOTES: '1',
    ALPACA_KEY_ID: 'k',
    ALPACA_SECRET_KEY: 's',
    ALPACA_QUOTES: 'true',
    ALPACA_BARS: 'yes',
    ALPACA_FEED: 'sip',
    POLYGON_API_KEY: 'p',
    POLYGON_BARS: 'true',
  }
  const { config, extra } = loadConfigWith({ env, dotenvPath: '/nonexistent' }, registry.settings)
  const opts = (name: string): Record<string, unknown> =>
    registry.adapters[name]!.options.parse({
      symbols: config.symbols,
      ...registry.optionsOf(name, extra),
    })
  assert.equal(opts('finnhub').zeroVolume, true)
  assert.equal(opts('binance').quotes, true)
  assert.deepEqual([opts('alpaca').quotes, opts('alpaca').bars, opts('alpaca').feed], [true, true, 'sip'])
  assert.deepEqual([opts('polygon').quotes, opts('polygon').bars], [false, true])
  // Unset: the adapter's own defaults.
  const plain = loadConfigWith(
    { env: { FINNHUB_API_KEY: 'f' }, dotenvPath: '/nonexistent' },
    registry.settings,
  )
  assert.equal(
    (
      registry.adapters.finnhub!.options.parse({
        symbols: ['X'],
        ...registry.optionsOf('finnhub', plain.extra),
      }) as {
        zeroVolume: boolean
      }
    ).zeroVolume,
    false,
  )
  assert.throws(
    () => loadConfigWith({ env: { ALPACA_BARS: 'maybe' }, dotenvPath: '/nonexistent' }, registry.settings),
    {
      name: 'ConfigError',
      message: 'invalid ALPACA_BARS: "maybe" expected true or false',
    },
  )
})

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  )
}

test("a provider's variables are named in its own file only", () => {
  const src = join(import.meta.dirname, '../../src')
  const files = walk(src).filter((f) => f.endsWith('.ts'))
  for (const a of Object.values(registry.adapters))
    for (const s of Object.values(a.settings ?? {})) {
      const where = files.filter((f) => readFileSync(f, 'utf8').includes(`'${s.env!}'`))
      assert.deepEqual(
        where.map((f) => f.slice(src.length + 1)),
        [`sources/${a.name}.ts`],
        `${s.env} is named outside src/sources/${a.name}.ts`,
      )
    }
})
