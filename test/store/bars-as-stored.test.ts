// A batch's bars as stored come back only when someone reads them (the live tail's subscribers):
// the upsert answers with them when they are wanted before the writes, they are read after the
// commit when a subscriber came in meanwhile, and nothing comes back otherwise. The bars stored
// are the same in every case (equal to the GROUP BY of the ticks), on PostgreSQL and on PGlite,
// for a batch written as prepared (pipelined and by COPY) and the usual way.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Db } from '../../src/store/db.ts'
import { PIPELINED_MAX_TICKS, TickStore } from '../../src/store/ticks.ts'
import type { Bar } from '../../src/store/bars.ts'
import { prepareWrite, writeBatch } from '../../src/processor/plan.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { openTestStore } from '../support/stores.ts'
import { checkBars } from '../support/bars.ts'
import { tradeItem } from '../support/trades.ts'

/** n trades from offset `from`, three symbols, one every 250 ms, prices and sizes varying. */
function items(from: number, n: number): BatchItem[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k
    return tradeItem(i, {
      symbol: ['AAA', 'BBB', 'CCC'][i % 3]!,
      ts: new Date(Date.UTC(2026, 10, 24, 15, 30) + i * 250).toISOString(),
      price: `${100 + (i % 17)}.${String(i % 100).padStart(2, '0')}`,
      size: String(1 + (i % 7)),
      id: `x${i}`,
    })
  })
}

const key = (b: Bar) => `${b.symbol} ${b.interval} ${b.bucket}`
const sorted = (bars: Bar[]) => [...bars].sort((a, b) => key(a).localeCompare(key(b)))

/** The stored bars of these keys, read directly. */
async function storedBars(db: Db, of: Bar[]): Promise<Bar[]> {
  const rows = await db.query<Bar>(
    `select symbol, interval, to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket,
            open::text, high::text, low::text, close::text, volume::text, vwap::text, trades::text
       from bars where symbol || ' ' || interval || ' ' ||
                       to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') = any($1::text[])`,
    [of.map(key)],
  )
  return sorted(rows)
}

for (const kind of ['postgres', 'pglite'] as const) {
  test(`bars as stored (${kind}): sent back when wanted, read after the commit when wanted late, none when not`, async (t) => {
    const db = await openTestStore(kind, t)
    const store = new TickStore(db)
    const timezone = await store.timezone()
    // Each batch overlaps the bars of the one before (the same minute, hour and day), so the
    // upsert merges and the bars as stored are not the batch's own partial bars.
    const sizes = [50, PIPELINED_MAX_TICKS + 200, 60, 70, PIPELINED_MAX_TICKS + 300, 80, 90, 40, 30]
    const modes = ['always', 'never', 'late'] as const
    let offset = 0
    let n = 0
    for (const size of sizes) {
      const batch = items(offset, size)
      offset += size
      const mode = modes[n % 3]!
      // Prepared (pipelined on PostgreSQL when small, COPY otherwise) or built the usual way.
      const prepared = n % 2 === 0 ? prepareWrite(batch, timezone) : undefined
      n++
      let asked = 0
      const wanted = () => mode === 'always' || (mode === 'late' && asked++ > 0)
      const result = await writeBatch(store, 'g', batch, undefined, prepared, wanted)
      assert.equal(result.stored.length, size)
      if (mode === 'never') {
        assert.deepEqual(result.bars, [], `batch ${n}: no bars sent back`)
        continue
      }
      // 3 symbols × 5 intervals at least, each bar once, as stored after the batch.
      assert.ok(result.bars.length >= 15, `batch ${n}: ${result.bars.length} bars`)
      assert.equal(new Set(result.bars.map(key)).size, result.bars.length)
      assert.deepEqual(sorted(result.bars), await storedBars(db, result.bars), `batch ${n} (${mode})`)
      if (mode === 'late') assert.equal(asked, 2, 'asked before the writes and after the commit')
    }
    const [row] = await db.query<{ n: string; bars: string }>(
      `select (select count(*) from ticks)::text as n, (select sum(trades) from bars where interval = '1d')::text as bars`,
    )
    assert.deepEqual(row, { n: String(offset), bars: String(offset) })
    const check = await checkBars(db)
    assert.ok(check.bars > 0)
    assert.deepEqual({ missing: check.missing, extra: check.extra }, { missing: 0, extra: 0 })
  })
}
