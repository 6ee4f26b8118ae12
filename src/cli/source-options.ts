// Builds the source named by --source from the configuration: the simulator's and replay's options
// from flags, a provider's from the settings it declares in its own file (sources/registry.ts reads
// them). Checked before anything starts, so a bad option cannot leave a server running.
import { ConfigError, UsageError } from '../errors.ts'
import { registry } from '../sources/registry.ts'
import type { Source, SourceDeps } from '../sources/types.ts'
import type { CommandContext } from './command.ts'
import { replayFlagOptions } from '../sources/replay-fields.ts'

/** field=column pairs of --columns. */
export function columnMap(spec: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (spec ?? '')
      .split(',')
      .filter(Boolean)
      .map((p) => p.split('=') as [string, string]),
  )
}

function rawOptions(ctx: CommandContext, name: string): Record<string, unknown> {
  const c = ctx.config
  if (name === 'simulator')
    return {
      symbols: c.symbols,
      rate: c.rate,
      realtime: c.rate > 0,
      count: c.count,
      durationMs: c.duration,
      seed: c.seed,
      start: c.start,
    }
  if (name === 'replay') {
    const file = ctx.args[0] ?? ctx.flags.file
    if (!file) throw new UsageError('replay needs a file: tickflow replay FILE')
    return {
      file,
      speed: c.speed,
      format: ctx.flags.format ?? 'auto',
      columns: columnMap(ctx.flags.columns),
      source: ctx.flags['source-name'] ?? 'replay',
      symbol: ctx.flags.symbol,
      // The command line draws the progress bar (cli/progress.ts).
      progress: false,
      ...replayFlagOptions(ctx.flags),
    }
  }
  return { symbols: c.symbols, ...registry.optionsOf(name, ctx.sourceSettings) }
}

export function sourceFor(ctx: CommandContext, name: string, deps: SourceDeps): Source {
  const adapter = registry.adapters[name]
  if (!adapter)
    throw new ConfigError(
      `invalid --source / TICKFLOW_SOURCE ${JSON.stringify(name)}: one of ${registry.names.join(', ')}`,
    )
  const parsed = adapter.options.safeParse(rawOptions(ctx, name))
  if (!parsed.success)
    throw new ConfigError(
      `invalid options for source ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )
  return adapter.create(parsed.data, { ...deps, log: deps.log.child({ source: name }) })
}
