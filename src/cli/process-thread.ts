// One processor thread of `tickflow process --threads N` (process-threads.ts starts it): the
// processor of a one-consumer process, over its own Kafka consumer and PostgreSQL pool, in a worker
// thread. The main thread has migrated the database and created the topics; this thread joins the
// group, stores batches until told to stop, and answers the main thread's requests for its metrics.
import { parentPort, workerData } from 'node:worker_threads'
import type { Config } from '../config/schema.ts'
import { TickflowError, errorMessage } from '../errors.ts'
import { Runtime } from './runtime.ts'
import type { FromThread, ToThread } from './process-threads.ts'

const port = parentPort
if (!port) throw new Error('process-thread.ts runs as a worker thread of tickflow process')
const { config, thread } = workerData as { config: Config; thread: number }
const send = (message: FromThread): void => port.postMessage(message)

const rt = new Runtime(config, 'tickflow-process', { thread })
rt.wakeWebhooks = () => send({ type: 'fired' })
let stop!: () => void
const stopped = new Promise<void>((resolve) => (stop = resolve))
port.on('message', (message: ToThread) => {
  if (message.type === 'stop') return stop()
  rt.metrics.registry.getMetricsAsJSON().then(
    (metrics) => send({ type: 'metrics', id: message.id, metrics }),
    (err: unknown) => rt.log.warn({ err: errorMessage(err) }, 'reading the metrics failed'),
  )
})

try {
  const processor = await rt.startProcessor(await rt.openDb())
  send({ type: 'started' })
  await Promise.race([stopped, processor.done])
} catch (err) {
  send({
    type: 'failed',
    code: err instanceof TickflowError ? err.code : undefined,
    message: errorMessage(err),
  })
  process.exitCode = 1
} finally {
  await rt.close()
  // The last figures, so that the main thread's counters do not go back once this thread is gone.
  send({ type: 'metrics', id: 0, metrics: await rt.metrics.registry.getMetricsAsJSON() })
  port.close()
}
