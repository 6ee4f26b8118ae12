import type { Command } from '../command.ts'
import { runPurge } from '../purge.ts'

export const purge: Command = {
  summary:
    'remove ticks, trade ids, bars, dead letters and alert firings older than --before TIME (or the TICKFLOW_RETAIN_* settings)',
  usage: '[--before TIME]',
  flags: {
    before: {
      type: 'string',
      value: 'TIME',
      help: 'remove what is older than TIME (ISO-8601, e.g. 2024-01-01); default: the TICKFLOW_RETAIN_* settings',
    },
  },
  run: (ctx) => runPurge(ctx.config, ctx.flags.before),
}
