// Runs the whole test suite against real services: finds or starts PostgreSQL, starts a
// single-node Kafka broker (with the JMX exporter) in a temporary directory, runs node's test
// runner over test/**/*.test.ts with their addresses in the environment, and stops what it started.
// Extra arguments are passed to `node --test` (e.g. a file or --test-name-pattern).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startKafka, root, type KafkaCluster } from '../test/support/kafka.ts'
import { findPostgres, type PostgresServer } from '../test/support/postgres.ts'

const log = (msg: string): void => void process.stderr.write(`test: ${msg}\n`)

let kafka: KafkaCluster | undefined
let postgres: PostgresServer | undefined
const kafkaDir = mkdtempSync(join(tmpdir(), 'tickflow-kafka-'))

async function cleanup(): Promise<void> {
  await kafka?.stop().catch((err: unknown) => log(`stopping Kafka: ${String(err)}`))
  await postgres?.stop().catch((err: unknown) => log(`stopping PostgreSQL: ${String(err)}`))
  rmSync(kafkaDir, { recursive: true, force: true })
}

let code = 1
try {
  postgres = await findPostgres()
  log(`PostgreSQL: ${postgres.origin}`)
  const started = Date.now()
  kafka = await startKafka(kafkaDir, [{ nodeId: 1, port: 19092, controllerPort: 19093, jmxPort: 17071 }])
  log(
    `Kafka: ${kafka.brokers} (started in ${((Date.now() - started) / 1000).toFixed(1)} s), JMX exporter on 127.0.0.1:17071`,
  )
  const args = process.argv.slice(2)
  const files = args.some((a) => !a.startsWith('-')) ? [] : ['test/**/*.test.ts']
  const child = spawn(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-timeout=300000', ...args, ...files],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        TICKFLOW_TEST_PG_ADMIN_URL: postgres.adminUrl,
        TICKFLOW_TEST_KAFKA_BROKERS: kafka.brokers,
        TICKFLOW_TEST_KAFKA_JMX_PORT: '17071',
        TICKFLOW_TEST_KAFKA_DIR: kafkaDir,
      },
    },
  )
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig))
  code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))))
} catch (err) {
  log(`could not run the tests: ${err instanceof Error ? err.message : String(err)}`)
} finally {
  await cleanup()
}
process.exit(code)
