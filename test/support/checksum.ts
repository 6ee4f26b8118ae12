// An order-independent checksum of trades: the sum of the first 60 bits of md5(symbol|ts|price|size)
// with the count. Computed the same way in JS (over what was produced) and in SQL (over ticks), so
// equality means the same multiset of trades: nothing lost, nothing twice, no value altered.
import { createHash } from 'node:crypto'
import type { Queryable } from '../../src/store/db.ts'

export interface Checksum {
  count: number
  sum: bigint
}

export class TradeChecksum implements Checksum {
  count = 0
  sum = 0n
  add(t: { symbol: string; ts: string; price: string; size: string }): void {
    const h = createHash('md5').update(`${t.symbol}|${t.ts}|${t.price}|${t.size}`).digest('hex')
    this.sum += BigInt(`0x${h.slice(0, 15)}`)
    this.count++
  }
}

export const CHECKSUM_SQL = `
  select count(*)::text as count,
         coalesce(sum(('x' || substr(md5(symbol || '|' || to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || price::text || '|' || size::text), 1, 15))::bit(60)::bigint::numeric), 0)::text as sum
  from ticks`

export async function tableChecksum(db: Queryable, where = ''): Promise<Checksum> {
  const [row] = await db.query<{ count: string; sum: string }>(`${CHECKSUM_SQL} ${where}`)
  return { count: Number(row!.count), sum: BigInt(row!.sum) }
}
