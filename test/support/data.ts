// The real recorded market data: the shared data folder beside the project when present, else the
// small attributed excerpts in test/fixtures (see test/fixtures/README.md). TICKFLOW_TEST_DATA names
// the data folder when it is elsewhere (a checkout in another folder).
import { existsSync, readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { join } from 'node:path'
import { root } from './kafka.ts'

const shared = process.env.TICKFLOW_TEST_DATA ?? join(root, '../shared/data')

export function dataFile(name: string): { path: string; full: boolean } {
  const full = join(shared, name)
  if (existsSync(full)) return { path: full, full: true }
  const excerpt = join(root, 'test/fixtures', name)
  if (existsSync(excerpt)) return { path: excerpt, full: false }
  throw new Error(`neither ${full} nor the excerpt ${excerpt} exists`)
}

/** The trade frames of a recorded Binance feed, read independently of the replay source. */
export function binanceFeedTrades(
  path: string,
): { symbol: string; ts: string; price: string; size: string; id: string }[] {
  return binanceFeedTradesOf(gunzipSync(readFileSync(path)).toString('utf8'))
}

/** The trade frames among the lines of a recorded Binance feed. */
export function binanceFeedTradesOf(
  text: string,
): { symbol: string; ts: string; price: string; size: string; id: string }[] {
  const out = []
  for (const line of text.split('\n')) {
    if (!line.includes('"e":"trade"')) continue
    const d = (
      JSON.parse(line.slice(line.indexOf(' ') + 1)) as {
        data: { s: string; T: number; p: string; q: string; t: number }
      }
    ).data
    out.push({
      symbol: d.s,
      ts: new Date(d.T).toISOString().replace('Z', '000Z'),
      price: d.p,
      size: d.q,
      id: String(d.t),
    })
  }
  return out
}

/** The flattened trades CSV that ships beside the recording (same trades, other layout). */
export function binanceCsvTrades(
  path: string,
): { symbol: string; ts: string; price: string; size: string; id: string }[] {
  const [, ...rows] = readFileSync(path, 'utf8').trim().split('\n')
  return rows.map((r) => {
    const [, , tradeMs, symbol, id, price, qty] = r.split(',')
    return {
      symbol: symbol!,
      ts: new Date(Number(tradeMs)).toISOString().replace('Z', '000Z'),
      price: price!,
      size: qty!,
      id: id!,
    }
  })
}
