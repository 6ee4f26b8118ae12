// The market-data provider adapters, for the source registry to merge in by name.
import type { SourceAdapter } from './types.ts'
import { alpaca } from './alpaca.ts'
import { alphavantage } from './alphavantage.ts'
import { binance } from './binance.ts'
import { finnhub } from './finnhub.ts'
import { polygon } from './polygon.ts'

// The registry holds adapters of different option types side by side, as the existing ones do.
const entry = <Options>(adapter: SourceAdapter<Options>): SourceAdapter<never> =>
  adapter as SourceAdapter<never>

export const providers: SourceAdapter<never>[] = [
  entry(binance),
  entry(finnhub),
  entry(alpaca),
  entry(polygon),
  entry(alphavantage),
]
