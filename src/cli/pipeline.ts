// source → bus → processor → store (→ API) in one process: `tickflow up` and the embedded replay.
// Stops when the source ends (after the processor stored everything) or on SIGINT/SIGTERM.
import { basename } from 'node:path'
import type { Config } from '../config/schema.ts'
import { LiveHub, type LiveEvent } from '../api/live.ts'
import type { BarUpdate } from '../processor/lateness.ts'
import type { Db } from '../store/db.ts'
import type { BatchResult } from '../store/ticks.ts'
import { pump } from '../sources/pump.ts'
import { DiskFullError, InputCutShortError } from '../errors.ts'
import type { CommandContext } from './command.ts'
import { waitCaughtUp } from './caught-up.ts'
import { createEncoder, withRuntime, type Runtime } from './runtime.ts'
import { lastStoredPrices } from '../store/last-prices.ts'
import { say } from './say.ts'
import { startFileProgress } from './progress.ts'
import { sourceFor } from './source-options.ts'
import { startAlertWebhooks } from './webhooks.ts'

function liveEvents(result: BatchResult, bars: BarUpdate[]): LiveEvent[] {
  const events: LiveEvent[] = result.stored.map((t) => ({
    type: 'trade',
    data: { symbol: t.symbol, ts: t.ts, price: t.price, size: t.size, source: t.source },
  }))
  for (const b of bars) events.push({ type: 'bar', data: b })
  for (const f of result.firings ?? [])
    events.push({
      type: 'alert',
      data: { id: f.id, ruleId: f.ruleId, symbol: f.symbol, ts: f.ts, price: f.price, value: f.value },
    })
  return events
}

async function summary(db: Db, sent: number): Promise<string> {
  const [row] = await db.query<{ ticks: string; dead: string }>(
    'select (select count(*) from ticks)::text as ticks, (select count(*) from dead_letters)::text as dead',
  )
  return `${sent} trades produced; the store holds ${row?.ticks} ticks and ${row?.dead} dead letters (${db.kind})`
}

export async function runPipeline(ctx: CommandContext, sourceName: string): Promise<number> {
  let line: string | undefined
  // A failure the command ends with after it has said what the store holds.
  let failure: InputCutShortError | DiskFullError | undefined
  const code = await withRuntime(ctx.config, 'tickflow', async (rt) => {
    const opened: { db?: Db } = {}
    const source = sourceFor(ctx, sourceName, {
      log: rt.log,
      metrics: rt.metrics,
      signal: rt.signal,
      // The simulator asks for the last stored prices only once it runs, after the store is open.
      lastPrices: (symbols) => (opened.db ? lastStoredPrices(opened.db, symbols) : Promise.resolve({})),
    })
    await source.check?.()
    // A bulk load: a replay or the simulator as fast as they go (TICKFLOW_EMBEDDED_OPTIMIZE=auto).
    rt.bulkLoad =
      (sourceName === 'replay' && ctx.config.speed === 0) ||
      (sourceName === 'simulator' && ctx.config.rate === 0)
    // The file is read (and refused) before the data directory is claimed, let alone created.
    rt.claimDataDir()
    // Registered before anything listens: a schema the registry refuses ends the command here.
    const encode = await createEncoder(ctx.config, rt.log, rt.signal)
    const hub = new LiveHub()
    const { db } = await rt.serveThenOpen({ api: true, hub })
    if (!db) throw new Error('the pipeline needs its database')
    opened.db = db
    await rt.ensureTopics(db)
    const processor = await rt.startProcessor(db, {
      // Events are made only for subscribers, and the bars as stored sent back only for them.
      onCommitted: (r, bars) => {
        if (hub.size > 0) hub.publish(liveEvents(r, bars))
      },
      wantsBars: () => hub.size > 0,
    })
    startAlertWebhooks(rt, db, ctx.config)
    rt.log.info({ bus: rt.bus().kind, store: db.kind, source: sourceName }, 'pipeline started')
    const producer = rt.bus().producer()
    rt.defer('producer', () => producer.close())
    let counted = 0
    const file = sourceName === 'replay' ? (ctx.args[0] ?? ctx.flags.file) : undefined
    const stopBar = file
      ? startFileProgress(file, { label: `replay ${basename(file)}`, count: () => counted, unit: 'trades' })
      : () => {}
    rt.defer('progress bar', stopBar)
    const produced = pump({
      source,
      producer,
      topic: ctx.config.kafkaTopic,
      log: rt.log,
      metrics: rt.metrics,
      onSent: (trades) => (counted += trades.length),
      encode,
    })
    const sent = await untilSourceEnds(rt, produced, processor.done).catch((err: unknown) => {
      // A file cut short: what was read before it is stored, then the command fails with why. A
      // full disk stopped the processor: nothing more can be stored, but the store can be counted.
      if (!(err instanceof InputCutShortError || err instanceof DiskFullError)) throw err
      failure = err
      return counted
    })
    stopBar()
    const complete = failure instanceof DiskFullError ? false : await drain(rt, db, ctx.config)
    // Stopped by a signal: the batch in hand is committed (or not) before the store is counted,
    // so the last line tells what the store holds once the command has exited.
    if (rt.signal.aborted) await processor.close()
    line = await summary(db, sent)
    rt.log.info({ sent, complete }, 'pipeline stopped')
    return complete ? 0 : 1
  })
  if (line) say(line) // after everything closed, so it is the last line (but for a failure's)
  if (failure) throw failure
  return code
}

/** The pump's count, or the processor's failure if the processor stops first. */
async function untilSourceEnds(
  rt: Runtime,
  produced: Promise<number>,
  processorDone: Promise<void>,
): Promise<number> {
  const failed = processorDone.then(
    () => {
      if (!rt.signal.aborted) throw new Error('the processor stopped before the source ended')
      return produced
    },
    (err: unknown) => {
      throw err
    },
  )
  // Whichever loses the race is still handled (it would otherwise be an unhandled rejection).
  failed.catch(() => {})
  produced.catch(() => {})
  return Promise.race([produced, failed])
}

/**
 * Waits until the processor has stored what the source sent. Stopped by a signal, Kafka keeps what
 * is not stored yet for the next run; the in-process bus does not, so what it holds (two batches
 * at most, about a second's work) is stored before the command stops, within 6 s of the 9.5 s a
 * signal allows (signals.ts): a live provider does not send those trades again.
 */
async function drain(rt: Runtime, db: Db, config: Config): Promise<boolean> {
  const bus = rt.bus()
  const wait = (timeoutMs: number, signal?: AbortSignal): Promise<boolean> =>
    waitCaughtUp(bus, db, config.kafkaGroupId, config.kafkaTopic, { timeoutMs, signal })
  if (bus.kind !== 'memory') return rt.signal.aborted || wait(120_000, rt.signal)
  if (!rt.signal.aborted) return wait(120_000)
  rt.log.info('storing the trades the in-process bus holds before stopping')
  const complete = await wait(6_000)
  if (!complete) rt.log.warn('the in-process bus still held trades after 6 s; they were not stored')
  return complete
}
