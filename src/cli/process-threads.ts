// `tickflow process --threads N`: N consumers of the group in worker threads of one process. Each
// thread runs what a one-consumer processor runs (process-thread.ts); the main thread keeps the HTTP
// server, readiness, retention and webhook delivery, and serves every thread's metrics merged on
// /metrics. A thread that fails stops the others: the process then exits non-zero with that
// thread's line, as a one-consumer processor would.
import { Worker } from 'node:worker_threads'
import type { Config } from '../config/schema.ts'
import { ConfigError, TickflowError, errorMessage, type ErrorCode } from '../errors.ts'
import type { MetricsSnapshot } from '../metrics/registry.ts'
import type { Processor } from '../processor/processor.ts'
import type { Runtime } from './runtime.ts'
import { withTimeout } from '../util/timeout.ts'

/** Messages from a processor thread to the main thread. */
export type FromThread =
  | { type: 'started' }
  | { type: 'failed'; code: ErrorCode | undefined; message: string }
  | { type: 'metrics'; id: number; metrics: MetricsSnapshot }
  | { type: 'fired' }

/** Messages from the main thread to a processor thread. */
export type ToThread = { type: 'stop' } | { type: 'metrics'; id: number }

/** How long a thread may take to answer for its metrics before its last answer is served. */
const METRICS_WAIT_MS = 1000
/** How long the start waits for the topic's partition count before it goes on without it. */
const PARTITION_COUNT_WAIT_MS = 2_000
/**
 * How long the threads may take to stop before they are ended: each closes its consumer within
 * 5 s, and the main thread then needs its own share of the 9.5 s a signal allows (signals.ts).
 */
const STOP_WAIT_MS = 6000

const ENTRY = new URL('./process-thread.ts', import.meta.url)

class ProcessorThread {
  readonly worker: Worker
  /** The thread's latest metrics: served when it does not answer in time, or is gone. */
  last: MetricsSnapshot = []
  readonly started: Promise<void>
  readonly exited: Promise<void>
  /** Rejects once when the thread fails (or ends when it was not asked to). */
  readonly failed: Promise<never>
  private readonly waiting = new Map<number, () => void>()
  private nextId = 1
  private gone = false

  constructor(config: Config, index: number, onFired: () => void, isStopping: () => boolean) {
    // A worker's standard output is not the terminal: the format is decided here, for every thread.
    const logFormat =
      (config.logFormat ?? 'auto') === 'auto' ? (process.stdout.isTTY ? 'pretty' : 'json') : config.logFormat
    this.worker = new Worker(ENTRY, { workerData: { config: { ...config, logFormat }, thread: index } })
    let started!: () => void
    let fail!: (err: Error) => void
    this.started = new Promise((resolve) => (started = resolve))
    this.failed = new Promise<never>((_, reject) => (fail = reject))
    this.failed.catch(() => {})
    const failure = (code: ErrorCode | undefined, message: string): TickflowError =>
      new TickflowError(code ?? 'TF_INTERNAL', `processor thread ${index}: ${message}`)
    this.worker.on('message', (m: FromThread) => {
      if (m.type === 'started') started()
      else if (m.type === 'fired') onFired()
      else if (m.type === 'failed') fail(failure(m.code, m.message))
      else {
        this.last = m.metrics
        this.waiting.get(m.id)?.()
        this.waiting.delete(m.id)
      }
    })
    this.worker.on('error', (err) => fail(failure(undefined, errorMessage(err))))
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.gone = true
        if (!isStopping()) fail(failure(undefined, `ended unexpectedly (exit code ${code})`))
        for (const done of this.waiting.values()) done()
        resolve()
      }),
    )
  }

  /** Asks for the thread's metrics; its last ones when it does not answer within a second. */
  async metrics(): Promise<MetricsSnapshot> {
    if (this.gone) return this.last
    const id = this.nextId++
    const answered = new Promise<void>((resolve) => this.waiting.set(id, resolve))
    this.send({ type: 'metrics', id })
    await withTimeout(answered, METRICS_WAIT_MS, () => {})
    this.waiting.delete(id)
    return this.last
  }

  send(message: ToThread): void {
    try {
      this.worker.postMessage(message)
    } catch {
      // The thread is gone; its exit is handled above.
    }
  }
}

/** The threads' settings that a one-consumer processor does not check. */
export function checkThreads(config: Config): void {
  if (config.processThreads > 1 && !config.databaseUrl)
    throw new ConfigError(
      `invalid TICKFLOW_PROCESS_THREADS (--threads): ${config.processThreads} threads need DATABASE_URL; the embedded store takes one writer`,
    )
}

/**
 * Warns when the topic has fewer partitions than the process has threads: a consumer of the group
 * gets at least one partition or none, so the surplus threads would hold a PostgreSQL pool and
 * their memory for nothing. Not an error: partitions can be added, and the group rebalances. Only a
 * hint, so it never delays or stops the start: a count the broker does not give within a moment
 * (metadata of a topic just created, a leader election) is skipped.
 */
export async function warnIdleThreads(rt: Runtime, config: Config): Promise<void> {
  const partitions = await withTimeout(
    rt
      .bus()
      .endOffsets(config.kafkaTopic)
      .then((ends) => ends.size)
      .catch(() => 0),
    PARTITION_COUNT_WAIT_MS,
    () => 0,
  )
  if (partitions === 0 || config.processThreads <= partitions) return
  const idle = config.processThreads - partitions
  rt.log.warn(
    { threads: config.processThreads, partitions, topic: config.kafkaTopic },
    `${config.processThreads} threads for ${partitions} partition${partitions === 1 ? '' : 's'}: ${idle} will hold no partition (add partitions or run fewer threads)`,
  )
}

/**
 * Starts `config.processThreads` processor threads once the database is migrated and the topics
 * exist; resolves when every thread has started its consumer, rejects with the first failure (the
 * threads already started are stopped). The result stops like a one-consumer Processor.
 */
export async function startProcessorThreads(rt: Runtime, config: Config): Promise<Processor> {
  let stopping = false
  const threads = Array.from(
    { length: config.processThreads },
    (_, i) =>
      new ProcessorThread(
        config,
        i + 1,
        () => rt.wakeWebhooks?.(),
        () => stopping,
      ),
  )
  const anyFailed = Promise.race(threads.map((t) => t.failed))
  anyFailed.catch(() => {})
  rt.metrics.threads = () => Promise.all(threads.map((t) => t.metrics()))
  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      stopping = true
      for (const t of threads) t.send({ type: 'stop' })
      const all = Promise.all(threads.map((t) => t.exited))
      const late = await withTimeout(
        all.then(() => false),
        STOP_WAIT_MS,
        () => true,
      )
      if (late) {
        rt.log.warn('a processor thread did not stop in time; ending it')
        await Promise.all(threads.map((t) => t.worker.terminate()))
      }
    })())
  rt.defer('processor threads', close)
  await Promise.race([Promise.all(threads.map((t) => t.started)), anyFailed])
  rt.log.info({ threads: threads.length }, 'processor threads started')
  return {
    // The threads end together only when stopped; one ending alone is a failure (anyFailed).
    done: Promise.race([anyFailed, Promise.all(threads.map((t) => t.exited)).then(() => {})]),
    close,
  }
}
