import type { Command } from '../command.ts'
import { errorMessage } from '../../errors.ts'
import { withRuntime } from '../runtime.ts'
import { startRetention } from '../../store/retention.ts'
import { requireKafka } from './require-kafka.ts'
import { startAlertWebhooks } from '../webhooks.ts'
import { useProcessorHeap } from '../node-flags.ts'
import { checkThreads, startProcessorThreads, warnIdleThreads } from '../process-threads.ts'

export const processCommand: Command = {
  summary: 'the processor service: Kafka → PostgreSQL',
  description:
    'Consumes the trade topic in the consumer group (--group), stores ticks, bars and dead letters with the offsets in one transaction. The HTTP port (/metrics, /readyz) is bound before the group is joined. With --threads N the process runs N consumers of the group, each in its own thread.',
  async run(ctx) {
    const { config } = ctx
    requireKafka(config, 'process')
    checkThreads(config)
    useProcessorHeap()
    return withRuntime(config, 'tickflow-process', async (rt) => {
      const { db } = await rt.serveThenOpen({ api: false, database: true, kafka: true })
      if (!db) throw new Error('the processor needs its database')
      await rt.ensureTopics()
      if (config.processThreads > 1) await warnIdleThreads(rt, config)
      const processor =
        config.processThreads > 1 ? await startProcessorThreads(rt, config) : await rt.startProcessor(db)
      startAlertWebhooks(rt, db, config)
      const stopRetention = startRetention(db, config, (r) =>
        r instanceof Error
          ? rt.log.warn({ err: errorMessage(r) }, 'retention failed')
          : rt.log.info(r, 'retention applied'),
      )
      rt.defer('retention', stopRetention)
      rt.log.info(
        { topic: config.kafkaTopic, group: config.kafkaGroupId, threads: config.processThreads },
        'processor started',
      )
      let code = 0
      await Promise.race([
        rt.stopped,
        processor.done.catch((err: unknown) => {
          rt.log.error({ err: errorMessage(err) }, 'processor failed')
          code = 1
          throw err
        }),
      ])
      rt.log.info('processor stopped')
      return code
    })
  },
}
