// A recording in a format tickflow does not read is refused with one line that names the format
// and what to run, before any store exists. Seen before: a zip of a CSV was parsed as CSV (a
// header of binary noise, TF_REPLAY_COLUMNS), an xz or zstd file ended in "unexpected error:
// Invalid Opening Quote [TF_INTERNAL]", and the daily-bars import created the store first. A
// first line that is not CSV at all ended in the same internal error.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { zstdCompressSync } from 'node:zlib'
import { binanceFeedTrades, dataFile } from '../support/data.ts'
import { assertOneLine, noServices, runWithin, tempDir } from './support.ts'

// The compressors' own implementations (Debian's Python's standard library), not bytes made up here.
const PYTHON = `
import sys, zipfile, bz2, lzma
src, out = sys.argv[1], sys.argv[2]
data = open(src, 'rb').read()
with zipfile.ZipFile(out + '.zip', 'w', zipfile.ZIP_DEFLATED) as z: z.writestr('trades.csv', data)
open(out + '.bz2', 'wb').write(bz2.compress(data))
open(out + '.xz', 'wb').write(lzma.compress(data))
`

test('zip, bzip2, xz and zstd recordings are refused with one line naming the format', async (t) => {
  const dir = tempDir(t, 'tickflow-formats-')
  const csv = join(dir, 'trades.csv')
  writeFileSync(csv, tradesCsv())
  execFileSync('/usr/bin/python3', ['-c', PYTHON, csv, join(dir, 'trades.csv')]) // scripts/system-deps.sh
  writeFileSync(join(dir, 'trades.csv.zst'), zstdCompressSync(readFileSync(csv)))
  const cases: [string, string][] = [
    [
      'trades.csv.zip',
      'is a zip archive: tickflow reads text files, plain or gzip-compressed; unzip it first',
    ],
    [
      'trades.csv.bz2',
      'is bzip2-compressed: tickflow reads text files, plain or gzip-compressed; bunzip2 it (or gzip it instead)',
    ],
    [
      'trades.csv.xz',
      'is xz-compressed: tickflow reads text files, plain or gzip-compressed; unxz it (or gzip it instead)',
    ],
    [
      'trades.csv.zst',
      'is zstd-compressed: tickflow reads text files, plain or gzip-compressed; unzstd it (or gzip it instead)',
    ],
  ]
  for (const [file, why] of cases)
    for (const extra of [[], ['--format', 'daily-bars']]) {
      const run = await runWithin(['replay', file, ...extra], noServices, dir, 30_000)
      assert.equal(run.code, 1, `${file} ${extra.join(' ')}: ${run.output}`)
      assertOneLine(
        run.output,
        new RegExp(
          `^tickflow: replay file ${file.replaceAll('.', '\\.')} ${escape(why)} \\[TF_REPLAY_FILE\\]$`,
        ),
      )
      assert.equal(existsSync(join(dir, 'data')), false, `${file} ${extra.join(' ')}: a store was created`)
    }
  // The same trades as text are read: 20 of them stored.
  const plain = await runWithin(['replay', 'trades.csv'], noServices, dir, 60_000)
  assert.equal(plain.code, 0, plain.output)
  assert.match(plain.output, /the store holds 20 ticks and 0 dead letters/)
})

test('a first line that is not CSV is one line naming it, not an internal error', async (t) => {
  const dir = tempDir(t, 'tickflow-notcsv-')
  writeFileSync(join(dir, 'quote.csv'), '"ts,price,size\n1723161256322,61800.30,0.006\n')
  const run = await runWithin(['replay', 'quote.csv', '--symbol', 'BTCUSDT'], noServices, dir, 30_000)
  assert.equal(run.code, 1)
  assertOneLine(
    run.output,
    /^tickflow: the first line "\\"ts,price,size" is not a CSV header \(Quote Not Closed\): give --format, or column positions with --columns \[TF_REPLAY_COLUMNS\]$/,
  )
  assert.equal(existsSync(join(dir, 'data')), false, 'a store was created')
})

/** A CSV of the recorded Binance feed's first 20 trades. */
function tradesCsv(): string {
  const trades = binanceFeedTrades(dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz').path).slice(0, 20)
  const rows = trades.map((x) => `${x.ts},${x.symbol},${x.id},${x.price},${x.size}`)
  return ['ts,symbol,id,price,size', ...rows].join('\n') + '\n'
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
