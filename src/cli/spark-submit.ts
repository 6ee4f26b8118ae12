// `tickflow spark submit`: starts the Spark job (analytics/spark) in local[*] in a JVM of its own, or
// prints the spark-submit line for a cluster. The job's own options are checked here first, so a
// bad value is one line naming it; the database is migrated (the job's tables are migration 008).
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { CommandContext } from './command.ts'
import { ConfigError, TickflowError, UsageError } from '../errors.ts'
import { migrate } from '../store/migrate.ts'
import { openDatabase } from './runtime.ts'
import { say } from './say.ts'
import { exitOfChild } from './child.ts'

export const sparkHome = resolve(import.meta.dirname, '../../analytics/spark')
const jar = join(sparkHome, 'target/tickflow-spark.jar')
const classpathFile = join(sparkHome, 'target/classpath.txt')

const DURATION = /^\d{1,9}(ms|s|m|h)$/
const MASTER = /^(local(\[(\*|\d{1,4})\])?|spark:\/\/[^\s]+|k8s:\/\/[^\s]+)$/

export interface SparkOptions {
  master: string
  checkpoint: string
  watermark: string
  trigger: string
  metricsPort: string
  maxOffsetsPerTrigger: string
}

export function sparkOptions(ctx: CommandContext): SparkOptions {
  const f = ctx.flags
  const o: SparkOptions = {
    master: f.master ?? 'local[*]',
    checkpoint: resolve(f.checkpoint ?? join(ctx.config.dataDir, 'spark-checkpoint')),
    watermark: f.watermark ?? '5s',
    trigger: f.trigger ?? '1s',
    metricsPort: f['metrics-port'] ?? '9464',
    maxOffsetsPerTrigger: f['max-offsets-per-trigger'] ?? '100000',
  }
  if (!MASTER.test(o.master))
    throw new ConfigError(
      `invalid --master: ${JSON.stringify(o.master)}: expected local[*], local[N], spark://HOST:PORT or k8s://URL`,
    )
  if (!DURATION.test(o.watermark))
    throw new ConfigError(
      `invalid --watermark: ${JSON.stringify(o.watermark)}: expected a duration such as 5s`,
    )
  if (o.trigger !== 'available-now' && !DURATION.test(o.trigger))
    throw new ConfigError(
      `invalid --trigger: ${JSON.stringify(o.trigger)}: expected a duration such as 1s, or available-now`,
    )
  if (!/^\d{1,5}$/.test(o.metricsPort) || Number(o.metricsPort) > 65535)
    throw new ConfigError(`invalid --metrics-port: ${JSON.stringify(o.metricsPort)}: expected 0-65535`)
  if (!/^[1-9]\d{0,9}$/.test(o.maxOffsetsPerTrigger))
    throw new ConfigError(
      `invalid --max-offsets-per-trigger: ${JSON.stringify(o.maxOffsetsPerTrigger)}: expected a positive integer`,
    )
  return o
}

/** The job's arguments; the database URL is given by reference when printed (it may hold a password). */
function jobArgs(ctx: CommandContext, o: SparkOptions, databaseUrl: string): string[] {
  return [
    '--brokers',
    ctx.config.kafkaBrokers!.join(','),
    '--topic',
    ctx.config.kafkaTopic,
    '--database-url',
    databaseUrl,
    '--checkpoint',
    o.checkpoint,
    '--watermark',
    o.watermark,
    '--trigger',
    o.trigger,
    '--metrics-port',
    o.metricsPort,
    '--max-offsets-per-trigger',
    o.maxOffsetsPerTrigger,
    // Avro-framed trades are read with the registry's schemas; its password goes by environment.
    ...(ctx.config.schemaRegistryUrl ? ['--schema-registry-url', ctx.config.schemaRegistryUrl] : []),
    ...(ctx.config.schemaRegistryUsername
      ? ['--schema-registry-username', ctx.config.schemaRegistryUsername]
      : []),
  ]
}

/** Spark and PostgreSQL driver versions, read from the module's pom so the line never drifts. */
export function pinnedVersions(): { spark: string; scala: string; postgresql: string } {
  const pom = readFileSync(join(sparkHome, 'pom.xml'), 'utf8')
  const tag = (t: string): string => new RegExp(`<${t}>([^<]+)</${t}>`).exec(pom)![1]!
  return { spark: tag('spark.version'), scala: tag('scala.binary'), postgresql: tag('postgresql.version') }
}

const shellQuote = (s: string): string =>
  /^[\w@%+=:,./[\]*-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`

export function submitLine(ctx: CommandContext, o: SparkOptions): string {
  const v = pinnedVersions()
  const parts = [
    'spark-submit',
    '--master',
    o.master,
    '--deploy-mode',
    'cluster',
    '--name',
    'tickflow-spark',
    '--class',
    'tickflow.spark.Job',
    '--packages',
    `org.apache.spark:spark-sql-kafka-0-10_${v.scala}:${v.spark},org.postgresql:postgresql:${v.postgresql}`,
    '--conf',
    'spark.sql.shuffle.partitions=1',
    ...(o.master.startsWith('k8s://')
      ? ['--conf', `spark.kubernetes.container.image=apache/spark:${v.spark}`]
      : []),
    jar,
  ].map(shellQuote)
  const args = jobArgs(ctx, o, 'DATABASE_URL').map(shellQuote)
  const db = args.indexOf('DATABASE_URL')
  args[db] = '"$DATABASE_URL"'
  return [...parts, ...args].join(' ')
}

export async function sparkSubmit(ctx: CommandContext): Promise<number> {
  if (ctx.args[0] !== 'submit' || ctx.args.length > 1)
    throw new UsageError(
      `tickflow spark needs the verb submit${ctx.args[0] && ctx.args[0] !== 'submit' ? `, not ${JSON.stringify(ctx.args[0])}` : ''}`,
    )
  const o = sparkOptions(ctx)
  if (!ctx.config.kafkaBrokers)
    throw new ConfigError(
      'tickflow spark submit needs KAFKA_BROKERS (or --brokers): Spark reads the ticks topic',
    )
  if (!ctx.config.databaseUrl)
    throw new ConfigError(
      'tickflow spark submit needs DATABASE_URL (or --database-url): the Spark job writes to PostgreSQL, not the embedded store',
    )
  if (!o.master.startsWith('local')) {
    process.stdout.write(`${submitLine(ctx, o)}\n`)
    return 0
  }
  if (!existsSync(jar) || !existsSync(classpathFile))
    throw new TickflowError('TF_SPARK', `the Spark job is not built (${jar}): run scripts/spark.sh`)
  const db = await openDatabase(ctx.config, 'tickflow-spark')
  try {
    await migrate(db)
  } finally {
    await db.close()
  }
  const classpath = `${readFileSync(classpathFile, 'utf8').trim()}:${jar}`
  const child = spawn(
    'java',
    [
      `-Xmx${process.env.SPARK_DRIVER_MEMORY ?? '1g'}`,
      `-Dspark.master=${o.master}`,
      '-Dspark.driver.host=127.0.0.1',
      '-Dspark.driver.bindAddress=127.0.0.1',
      '-cp',
      classpath,
      'tickflow.spark.Job',
      ...jobArgs(ctx, o, ctx.config.databaseUrl),
    ],
    {
      stdio: 'inherit',
      env: {
        SPARK_LOCAL_IP: '127.0.0.1',
        ...process.env,
        ...(ctx.config.schemaRegistryPassword
          ? { SCHEMA_REGISTRY_PASSWORD: ctx.config.schemaRegistryPassword }
          : {}),
      },
    },
  )
  child.once('error', (err) => say(`cannot start java: ${err.message}`))
  return exitOfChild(child, (sig) => void child.kill(sig))
}
