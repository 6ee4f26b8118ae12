import type { Command } from '../command.ts'
import { sparkSubmit } from '../spark-submit.ts'

export const spark: Command = {
  summary:
    'run the Spark Structured Streaming job (analytics/spark): locally, or print its spark-submit line',
  usage: 'submit',
  description:
    'tickflow spark submit runs the job in local[*] in a JVM of its own (build it first: scripts/spark.sh). With --master spark://HOST:PORT or k8s://URL it prints the spark-submit line for that cluster instead. docs/spark.md.',
  flags: {
    master: {
      type: 'string',
      value: 'URL',
      help: 'local[*] (default), local[N], spark://HOST:PORT or k8s://URL',
    },
    checkpoint: {
      type: 'string',
      value: 'DIR',
      help: 'checkpoint directory (default DATA_DIR/spark-checkpoint)',
    },
    watermark: { type: 'string', value: 'DURATION', help: 'event-time watermark delay (default 5s)' },
    trigger: {
      type: 'string',
      value: 'DURATION',
      help: 'micro-batch interval, or available-now (default 1s)',
    },
    'metrics-port': {
      type: 'string',
      value: 'PORT',
      help: 'port of the job’s /metrics (default 9464, 0 = off)',
    },
    'max-offsets-per-trigger': {
      type: 'string',
      value: 'N',
      help: 'messages per micro-batch at most (default 100000)',
    },
  },
  run: (ctx) => sparkSubmit(ctx),
}
