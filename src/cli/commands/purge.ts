import type { Command } from '../command.ts'
import { runPurge } from '../purge.ts'

export const purge: Command = {
  rawArgs: true,
  summary:
    'remove ticks, trade ids, bars, dead letters and alert firings older than --before TIME (or the TICKFLOW_RETAIN_* settings)',
  usage: '[--before TIME]',
  run: (ctx) => runPurge(ctx.config, ctx.args),
}
