// Fixed-count simulator runs through the compose `ingest` service, and what they must store: the
// count and checksum of exactly the simulator's trades, read from the compose PostgreSQL.
import assert from 'node:assert/strict'
import type pg from 'pg'
import { simulate } from '../../src/sources/simulator.ts'
import { CHECKSUM_SQL, TradeChecksum } from './checksum.ts'
import { waitFor } from './compose.ts'

/** A fixed-count simulator run through the compose `ingest` service, and the trades it must store. */
export interface Batch {
  symbols: string[]
  count: number
  seed: number
  start: string
  rate: number
}

export function ingestArgs(b: Batch): string[] {
  return [
    'run',
    '--rm',
    '--no-deps',
    '-T',
    'ingest',
    'ingest',
    '--count',
    String(b.count),
    '--seed',
    String(b.seed),
  ].concat(['--start', b.start, '--symbols', b.symbols.join(','), '--rate', String(b.rate)])
}

export function expected(b: Batch): TradeChecksum {
  const sum = new TradeChecksum()
  for (const trade of simulate({
    symbols: b.symbols,
    rate: b.rate,
    realtime: false,
    count: b.count,
    seed: b.seed,
    start: Date.parse(b.start),
  }))
    sum.add(trade)
  return sum
}

export async function stored(db: pg.Client, symbols: string[]): Promise<{ count: number; sum: bigint }> {
  const { rows } = await db.query<{ count: string; sum: string }>(`${CHECKSUM_SQL} where symbol = any($1)`, [
    symbols,
  ])
  return { count: Number(rows[0]!.count), sum: BigInt(rows[0]!.sum) }
}

/** Waits until the batch's trades are all stored, then asserts exactly them: count and checksum. */
export async function assertStoredExactly(db: pg.Client, b: Batch): Promise<void> {
  const want = expected(b)
  await waitFor(`${b.count} trades of ${b.symbols.join(',')} stored`, 120_000, async () =>
    (await stored(db, b.symbols)).count >= b.count ? true : undefined,
  )
  const got = await stored(db, b.symbols)
  assert.deepEqual(got, { count: b.count, sum: want.sum })
}
