// The Spark job in tests: built once by scripts/spark.sh, started as `tickflow spark submit` in a
// process group of its own (so SIGKILL reaches the JVM, not just the CLI), and its bars compared
// with tickflow's bars and with the SQL GROUP BY over ticks.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Queryable } from '../../src/store/db.ts'
import { root } from './kafka.ts'

export function buildSparkJob(): void {
  execFileSync('bash', [join(root, 'scripts/spark.sh')], { stdio: ['ignore', 'ignore', 'inherit'] })
}

export interface SparkJob {
  child: ChildProcess
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGKILL to the CLI and the JVM it started: a crash. */
  kill(): void
}

export function startSparkJob(flags: string[], env: Record<string, string>): SparkJob {
  const child = spawn(process.execPath, [join(root, 'bin/tickflow.js'), 'spark', 'submit', ...flags], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', SPARK_DRIVER_MEMORY: '768m', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  const keep = (d: Buffer): void => {
    // Spark's INFO lines are many; the test keeps what explains a failure.
    for (const line of d.toString().split('\n')) if (line && !line.includes(' INFO ')) out += `${line}\n`
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  return {
    child,
    output: () => out.slice(-20_000),
    exited,
    kill() {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // already gone
      }
    },
  }
}

const COLUMNS = 'symbol, interval, bucket, open, high, low, close, volume, vwap, trades'
const TEXT = 'symbol, interval, bucket, volume::text, pv::text, vwap::text'

/**
 * The SQL truth: bars as a GROUP BY over `source` (a subquery of trades: symbol, ts, price, size,
 * seq), keeping the (trade, interval) rows `where` accepts (t = the trade, iv = the interval).
 */
export function truth(source: string, where = 'true'): string {
  return `
  select symbol, iv as interval, tickflow_bucket(iv, ts, 'UTC') as bucket,
         (array_agg(price order by ts, seq))[1] as open, max(price) as high, min(price) as low,
         (array_agg(price order by ts desc, seq desc))[1] as close,
         sum(size) as volume, sum(price * size) / nullif(sum(size), 0) as vwap, count(*) as trades
  from ${source} t cross join unnest(array['1s', '1m', '5m', '1h', '1d']) as iv
  where ${where}
  group by 1, 2, 3`
}

export interface Diff {
  left: number
  right: number
  onlyLeft: number
  onlyRight: number
}

/** Row counts of two bar sets and of the rows each has that the other has not. */
export async function diffBars(db: Queryable, left: string, right: string): Promise<Diff> {
  const [r] = await db.query<Record<keyof Diff, string>>(`
    select (select count(*) from (${left}) a)::text as "left", (select count(*) from (${right}) b)::text as "right",
           (select count(*) from ((${left}) except (${right})) x)::text as "onlyLeft",
           (select count(*) from ((${right}) except (${left})) y)::text as "onlyRight"`)
  return {
    left: Number(r!.left),
    right: Number(r!.right),
    onlyLeft: Number(r!.onlyLeft),
    onlyRight: Number(r!.onlyRight),
  }
}

export const sparkBars = `select ${COLUMNS} from spark_bars`
export const tickflowBars = `select ${COLUMNS} from bars where origin = 'trades'`
/** volume, pv and vwap as text: equal digit for digit, scales included. */
export const sparkText = `select ${TEXT} from spark_bars`
export const tickflowText = `select ${TEXT} from bars where origin = 'trades'`

export async function waitFor(
  what: string,
  timeoutMs: number,
  ok: () => Promise<boolean>,
  why: () => string,
): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await ok()); await sleep(250))
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${why()}`)
}

/** One metric of the job's /metrics, or undefined. */
export async function sparkMetric(
  port: number,
  name: string,
  query = 'spark_bars',
): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`)
    .then((r) => r.text())
    .catch(() => '')
  const line = text.split('\n').find((l) => l.startsWith(`${name}{query="${query}"} `))
  return line === undefined ? undefined : Number(line.split(' ')[1])
}
