import type { Command } from '../command.ts'
import { replayFile } from '../replay-file.ts'
import { runPipeline } from '../pipeline.ts'
import { runIngest } from './ingest.ts'
import { runDailyImport } from '../daily-import.ts'

export const replay: Command = {
  summary: 'replay a recorded file (CSV, NDJSON, Binance feed, daily bars; gzip ok): --speed 0|1|N',
  usage: 'FILE',
  description:
    'Replays trades from a file into the pipeline (embedded unless KAFKA_BROKERS is set, then into Kafka). --format daily-bars loads daily OHLCV rows straight into 1d bars.',
  flags: {
    file: { type: 'string', value: 'FILE', help: 'the file (or give it as the first argument)' },
    format: { type: 'string', value: 'FORMAT', help: 'auto, csv, ndjson, binance-feed or daily-bars' },
    columns: {
      type: 'string',
      value: 'MAP',
      help: 'field=column pairs, e.g. ts=time,price=px,size=qty,symbol=sym',
    },
    'source-name': {
      type: 'string',
      value: 'NAME',
      help: 'the source column of the stored trades (default replay)',
    },
    symbol: { type: 'string', value: 'SYMBOL', help: 'symbol for files without a symbol column' },
    timezone: {
      type: 'string',
      value: 'ZONE',
      help: 'IANA zone of zone-less times, e.g. America/New_York (docs/replay.md)',
    },
    'ts-unit': { type: 'string', value: 'UNIT', help: 'what numeric times count: s, ms, us or ns' },
    date: { type: 'string', value: 'YYYY-MM-DD', help: 'the day of a time-of-day column (with --timezone)' },
    'price-divisor': {
      type: 'string',
      value: 'N',
      help: 'integer prices are divided by N exactly (a power of 2 and 5, e.g. 10000)',
    },
  },
  async run(ctx) {
    replayFile(ctx)
    if (ctx.flags.format === 'daily-bars') return runDailyImport(ctx)
    if (!ctx.config.kafkaBrokers) return runPipeline(ctx, 'replay')
    return runIngest(ctx, 'replay')
  },
}
