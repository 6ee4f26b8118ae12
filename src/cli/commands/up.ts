import type { Command } from '../command.ts'
import { runPipeline } from '../pipeline.ts'

export const up: Command = {
  summary:
    'the whole pipeline in one process (embedded bus and PGlite unless KAFKA_BROKERS/DATABASE_URL are set)',
  description:
    'Runs source → bus → processor → store → API and dashboard in one process. With no KAFKA_BROKERS the bus is in-process; with no DATABASE_URL the store is PGlite in --data-dir (one process per data directory).',
  run: (ctx) => runPipeline(ctx, ctx.config.source),
}
