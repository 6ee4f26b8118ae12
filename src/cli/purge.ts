// `tickflow purge [--before TIME]`: removes ticks (with their trade ids), bars, dead letters and
// alert firings (not those whose webhook is still undelivered) older than TIME, or, without
// --before, older than the retention settings (TICKFLOW_RETAIN_*).
// The store is chosen as for every command (--database-url, --data-dir, the environment, .env).
import type { Config } from '../config/schema.ts'
import { UsageError } from '../errors.ts'
import { cutoffsBefore, cutoffsFromSettings, purge, type Cutoffs } from '../store/retention.ts'
import { withRuntime } from './runtime.ts'

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/

function cutoffs(config: Config, before: string | undefined): Cutoffs {
  if (before === undefined) return cutoffsFromSettings(config)
  const ms = ISO.test(before) ? Date.parse(before) : NaN
  if (!Number.isFinite(ms))
    throw new UsageError(
      `invalid --before: ${JSON.stringify(before)}: expected an ISO-8601 time such as 2024-01-01 or 2024-01-01T00:00:00Z`,
    )
  return cutoffsBefore(new Date(ms))
}

export async function runPurge(config: Config, before: string | undefined): Promise<number> {
  const which = cutoffs(config, before)
  return withRuntime(config, 'tickflow-purge', async (rt) => {
    rt.claimDataDir()
    const r = await purge(await rt.db(), which)
    const bars = Object.entries(r.bars)
      .map(([i, n]) => `${n} ${i}`)
      .join(', ')
    process.stdout.write(
      `purged ${r.ticks} ticks (${r.partitionsDropped.length} partitions dropped), ${r.tradeIds} trade ids, ` +
        `bars: ${bars || 'none'}, ${r.deadLetters} dead letters, ` +
        `${r.alertFirings} alert firings (${r.alertFiringsKept} kept: webhook not yet delivered)\n`,
    )
    return 0
  })
}
