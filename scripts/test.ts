// Runs the whole test suite against real services: finds or starts PostgreSQL, starts a
// single-node Kafka broker (with the JMX exporter) in a temporary directory, runs node's test
// runner over test/**/*.test.ts with their addresses in the environment, and stops what it started.
// Extra arguments are passed to `node --test` (e.g. a file or --test-name-pattern).
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startKafka, root, type KafkaCluster } from '../test/support/kafka.ts'
import { findPostgres, type PostgresServer } from '../test/support/postgres.ts'
import { ensureEngine, type Engine } from '../test/support/compose.ts'

const log = (msg: string): void => void process.stderr.write(`test: ${msg}\n`)

let kafka: KafkaCluster | undefined
let postgres: PostgresServer | undefined
const kafkaDir = mkdtempSync(join(tmpdir(), 'tickflow-kafka-'))

// The compose tests' images take minutes to build from cold: on a run that includes them, the
// build starts with the run, in the background, and the compose tests wait for it
// (test/support/prebuild-images.ts). The Docker daemon, if started here, lives for the whole run.
let engine: Engine | undefined
let prebuild: ChildProcess | undefined
let imageBuild: Promise<void> | undefined
const imagesStatus = join(kafkaDir, 'images.status')

async function startImageBuild(): Promise<void> {
  engine = await ensureEngine()
  if (engine.unavailable !== undefined) {
    writeFileSync(imagesStatus, `failed: ${engine.unavailable}\n`)
    return
  }
  const child = spawn(process.execPath, [join(root, 'test/support/prebuild-images.ts'), imagesStatus], {
    cwd: root,
    stdio: 'ignore',
    detached: true,
  })
  prebuild = child
  child.on('exit', (code, signal) => {
    if (!existsSync(imagesStatus)) writeFileSync(imagesStatus, `failed: exited ${code ?? signal}\n`)
  })
}

async function cleanup(): Promise<void> {
  await imageBuild
  if (prebuild?.pid !== undefined && prebuild.exitCode === null) {
    try {
      process.kill(-prebuild.pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
  await engine?.stop().catch((err: unknown) => log(`stopping the Docker daemon: ${String(err)}`))
  await kafka?.stop().catch((err: unknown) => log(`stopping Kafka: ${String(err)}`))
  await postgres?.stop().catch((err: unknown) => log(`stopping PostgreSQL: ${String(err)}`))
  rmSync(kafkaDir, { recursive: true, force: true })
}

let code = 1
try {
  postgres = await findPostgres()
  log(`PostgreSQL: ${postgres.origin}`)
  const started = Date.now()
  // TICKFLOW_TEST_KAFKA_PORT moves the suite's broker (port, port+1 for its controller, port-2021
  // for JMX) so two checkouts can run their suites side by side.
  const port = Number(process.env.TICKFLOW_TEST_KAFKA_PORT ?? 19092)
  const jmxPort = port - 2021
  kafka = await startKafka(kafkaDir, [{ nodeId: 1, port, controllerPort: port + 1, jmxPort }])
  log(
    `Kafka: ${kafka.brokers} (started in ${((Date.now() - started) / 1000).toFixed(1)} s), JMX exporter on 127.0.0.1:${jmxPort}`,
  )
  const args = process.argv.slice(2)
  const files = args.some((a) => !a.startsWith('-')) ? [] : ['test/**/*.test.ts']
  const imagesEnv: Record<string, string> = {}
  if (files.length > 0 || args.some((a) => /compose-(stack|cluster)\.test\.ts$/.test(a))) {
    imagesEnv.TICKFLOW_TEST_IMAGES_STATUS = imagesStatus
    imageBuild = startImageBuild().catch((err: unknown) => {
      writeFileSync(imagesStatus, `failed: ${err instanceof Error ? err.message : String(err)}\n`)
    })
  }
  const child = spawn(
    process.execPath,
    [
      '--test',
      '--test-concurrency=1',
      '--test-timeout=300000',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      // Seconds per test file, slowest first (scripts/test-times.ts).
      '--test-reporter=./scripts/test-times.ts',
      `--test-reporter-destination=${join(root, '.cache/test-times.tsv')}`,
      ...args,
      ...files,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        TICKFLOW_TEST_PG_ADMIN_URL: postgres.adminUrl,
        TICKFLOW_TEST_KAFKA_BROKERS: kafka.brokers,
        TICKFLOW_TEST_KAFKA_JMX_PORT: String(jmxPort),
        TICKFLOW_TEST_KAFKA_DIR: kafkaDir,
        ...imagesEnv,
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
