// A replay file cut short (an interrupted download) or broken part-way: every record read before
// the break is stored or sent, then the command exits 1 with one line naming the file, the line
// the break came after and the reason. Seen before: the embedded replay of the Binance recording
// cut at 60 % of its bytes stored 0 of the trades before the break (4,974 lines, 729 trades on
// the full recording) and said "unexpected error: unexpected end of file [TF_INTERNAL]"; the
// daily-bars import lost its last unwritten batch and said the same.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { constants, gunzipSync } from 'node:zlib'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { binanceFeedTradesOf, dataFile } from '../support/data.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { runWithin, tempDir } from './support.ts'

/**
 * Writes the first `share` of a gzip file's bytes to `path`; returns the complete lines that part
 * decodes to, read with zlib directly (not the replay's reader).
 */
function cutGzip(source: string, share: number, path: string): string[] {
  const bytes = readFileSync(source)
  const cut = bytes.subarray(0, Math.floor(bytes.length * share))
  writeFileSync(path, cut)
  const text = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8')
  return text.slice(0, text.lastIndexOf('\n')).split('\n')
}

const cutLine = (file: string, lines: number): RegExp =>
  new RegExp(
    `^tickflow: replay file ${file}: its gzip data ends or breaks after line ${lines.toLocaleString('en')}: unexpected end of file \\[TF_REPLAY_FILE\\]$`,
  )

function lastLines(output: string, n: number): string[] {
  assert.doesNotMatch(output, /^ {4}at /m)
  return output.trim().split('\n').slice(-n)
}

test('a cut-short recording replayed into the store: the trades before the break stored once, exit 1', async (t) => {
  const dir = tempDir(t, 'tickflow-cut-')
  const file = join(dir, 'feed.gz')
  const lines = cutGzip(dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz').path, 0.6, file)
  const trades = binanceFeedTradesOf(lines.join('\n'))
  assert.ok(trades.length > 100, `${trades.length} trades before the break`)
  const expected = new TradeChecksum()
  for (const tr of trades) expected.add(tr)
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const env = { KAFKA_BROKERS: '', DATABASE_URL: database.url }
  const run = await runWithin(['replay', file, '--speed', '0'], env, dir, 60_000)
  assert.equal(run.code, 1, run.output)
  const [summary, error] = lastLines(run.output, 2)
  assert.match(error!, cutLine(file, lines.length))
  assert.equal(
    summary,
    `tickflow: ${trades.length} trades produced; the store holds ${trades.length} ticks and 0 dead letters (postgres)`,
  )
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  assert.deepEqual(await tableChecksum(db), { count: expected.count, sum: expected.sum })
  // Bars are made from them as from any trades.
  const [bars] = await db.query<{ n: string }>(
    "select sum(trades)::text as n from bars where interval = '1m'",
  )
  assert.equal(bars!.n, String(trades.length))
})

test('a cut-short recording replayed into Kafka: the trades before the break are in the topic, exit 1', async (t) => {
  const dir = tempDir(t, 'tickflow-cut-kafka-')
  const file = join(dir, 'feed.gz')
  const lines = cutGzip(dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz').path, 0.6, file)
  const trades = binanceFeedTradesOf(lines.join('\n'))
  const topic = uniqueTopic('cut-short')
  const env = { KAFKA_BROKERS: testBrokers().join(','), KAFKA_TOPIC: topic, DATABASE_URL: '' }
  const run = await runWithin(['replay', file, '--speed', '0'], env, dir, 60_000)
  assert.equal(run.code, 1, run.output)
  const [summary, error] = lastLines(run.output, 2)
  assert.match(error!, cutLine(file, lines.length))
  assert.equal(summary, `tickflow: ${trades.length} trades produced to ${topic}`)
  const bus = createKafkaBus({ brokers: testBrokers() })
  t.after(() => bus.close())
  const ends = await bus.endOffsets(topic)
  assert.equal(
    [...ends.values()].reduce((a, b) => a + b, 0n),
    BigInt(trades.length),
  )
})

test('a cut-short daily-bars file: every row before the break imported, exit 1 with one line', async (t) => {
  const dir = tempDir(t, 'tickflow-cut-daily-')
  const file = join(dir, 'daily.csv.gz')
  const lines = cutGzip(dataFile('all_stocks_5yr.csv.gz').path, 0.6, file)
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const env = { KAFKA_BROKERS: '', DATABASE_URL: database.url }
  const run = await runWithin(['replay', file, '--format', 'daily-bars'], env, dir, 60_000)
  assert.equal(run.code, 1, run.output)
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  const [stored] = await db.query<{ bars: string; dead: string }>(
    "select (select count(*) from bars where interval = '1d')::text as bars, (select count(*) from dead_letters)::text as dead",
  )
  // Every data line before the break is a bar or a dead letter (the header is line 1).
  assert.equal(Number(stored!.bars) + Number(stored!.dead), lines.length - 1)
  const [error] = lastLines(run.output, 1)
  assert.equal(
    error,
    `tickflow: replay file ${file}: it ends or breaks after line ${lines.length.toLocaleString('en')}: unexpected end of file; the ${Number(stored!.bars).toLocaleString('en')} daily bars before it were imported [TF_REPLAY_FILE]`,
  )
  // The last whole row before the break is stored with its exact close.
  const row = lines.findLast((l) => !l.split(',').includes(''))!.split(',')
  const [dateOf, closeOf, symbolOf] = [row[0], row[4], row[6]]
  const [last] = await db.query<{ close: string }>(
    "select close::text from bars where symbol = $1 and interval = '1d' and (bucket at time zone 'UTC')::date = $2::date",
    [symbolOf, dateOf],
  )
  assert.equal(Number(last?.close), Number(closeOf), `${symbolOf} ${dateOf}`)
})
