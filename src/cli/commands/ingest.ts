import type { Command } from '../command.ts'
import { pump } from '../../sources/pump.ts'
import { createEncoder, withRuntime } from '../runtime.ts'
import { say } from '../say.ts'
import { sourceFor } from '../source-options.ts'
import { requireKafka } from './require-kafka.ts'

export const ingest: Command = {
  summary: 'the producer service: source → Kafka',
  async run(ctx) {
    requireKafka(ctx.config, 'ingest')
    return runIngest(ctx, ctx.config.source)
  },
}

/** source → Kafka, with /metrics and /readyz; the summary is printed after everything closed. */
export async function runIngest(ctx: Parameters<Command['run']>[0], sourceName: string): Promise<number> {
  const { config } = ctx
  let sent = 0
  const run = withRuntime(config, 'tickflow-ingest', async (rt) => {
    const source = sourceFor(ctx, sourceName, { log: rt.log, metrics: rt.metrics, signal: rt.signal })
    await source.check?.()
    // Registered before anything listens: a schema the registry refuses ends the command here.
    const encode = await createEncoder(config, rt.log, rt.signal)
    await rt.serveThenOpen({ api: false, kafka: true })
    await rt.ensureTopics()
    const producer = rt.bus().producer()
    rt.defer('producer', () => producer.close())
    // Counted as acknowledged, so a source that fails part-way still says what it sent.
    await pump({
      source,
      producer,
      topic: config.kafkaTopic,
      log: rt.log,
      metrics: rt.metrics,
      onSent: (records) => (sent += records.length),
      encode,
    })
    return 0
  })
  // Said before a failure's line too, when anything was sent: those trades are in the topic.
  const code = await run.catch((err: unknown) => {
    if (sent > 0) say(`${sent} trades produced to ${config.kafkaTopic}`)
    throw err
  })
  say(`${sent} trades produced to ${config.kafkaTopic}`)
  return code
}
