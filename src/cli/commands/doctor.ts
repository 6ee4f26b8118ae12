import type { Command } from '../command.ts'
import { doctor as runDoctor } from '../doctor.ts'

export const doctor: Command = {
  summary:
    "check Kafka, PostgreSQL, migrations and the selected source's settings; say exactly what is wrong",
  run: (ctx) => runDoctor(ctx.config, ctx.sourceSettings),
}
