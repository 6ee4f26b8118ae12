// The commands of `tickflow`, in help order. Adding a command is adding its file and one line here.
import type { Command } from '../command.ts'
import { up } from './up.ts'
import { ingest } from './ingest.ts'
import { processCommand } from './process.ts'
import { serve } from './serve.ts'
import { replay } from './replay.ts'
import { migrate } from './migrate.ts'
import { doctor } from './doctor.ts'
import { bench } from './bench.ts'
import { completionFor } from './completion.ts'
import { purge } from './purge.ts'
import { spark } from './spark.ts'
import { sqlCommand } from '../sql.ts'

export const commands: Record<string, Command> = {
  up,
  ingest,
  process: processCommand,
  serve,
  replay,
  migrate,
  purge,
  sql: sqlCommand,
  spark,
  doctor,
  bench,
  completion: completionFor(() => commands),
}
