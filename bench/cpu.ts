// Where a drain's CPU goes: the consumer (tickflow's processor, or Kafka Connect's worker),
// PostgreSQL, the broker and the whole machine, read from /proc every 200 ms and cut afterwards to
// the span from the drain's first stored row to its last. The throughput ratios say which side
// finished first on two shared cores; CPU per trade says how much of the machine each side needs
// for the same rows, and so how fast either could go at best.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
let ticksPerSecond: number | undefined
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100
  }
  return ticksPerSecond
}

interface ProcEntry {
  pid: number
  ppid: number
  comm: string
  /** user + system CPU seconds */
  cpu: number
}

/** One process's /proc/<pid>/stat, or undefined when it is gone. */
function readProc(pid: number): ProcEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const close = stat.lastIndexOf(')')
    const f = stat.slice(close + 2).split(' ')
    return {
      pid,
      ppid: Number(f[1]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      cpu: (Number(f[11]) + Number(f[12])) / clockTicks(),
    }
  } catch {
    return undefined
  }
}

/** A process's peak resident memory (VmHWM) and CPU seconds so far; zeros once it is gone. */
export function procStat(pid: number): { rss: number; cpu: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return {
      rss: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024,
      cpu: readProc(pid)?.cpu ?? 0,
    }
  } catch {
    return { rss: 0, cpu: 0 }
  }
}

function isBroker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('kafka.Kafka')
  } catch {
    return false
  }
}

export interface CpuSnapshot {
  /** CPU seconds of the consumer's processes (the given pids and their descendants). */
  consumer: number
  /** CPU seconds of every PostgreSQL process (postmaster and backends alive at the time). */
  postgres: number
  /** CPU seconds of the Kafka broker's JVM(s). */
  broker: number
  /** The machine's busy and total CPU seconds (/proc/stat, every core, idle and iowait excluded). */
  machineBusy: number
  machineTotal: number
  /** CPU seconds every core spent idle while waiting for the disk (/proc/stat iowait). */
  machineIowait: number
}

export function cpuSnapshot(consumerPids: readonly number[]): CpuSnapshot {
  const procs: ProcEntry[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const p = readProc(Number(name))
    if (p) procs.push(p)
  }
  const consumers = new Set(consumerPids)
  // Descendants: a launcher's child, a worker's helper. Parents are listed before children by pid
  // order only usually, so repeat until nothing is added.
  for (let added = true; added;) {
    added = false
    for (const p of procs)
      if (!consumers.has(p.pid) && consumers.has(p.ppid)) {
        consumers.add(p.pid)
        added = true
      }
  }
  const s = { consumer: 0, postgres: 0, broker: 0 }
  for (const p of procs) {
    if (consumers.has(p.pid)) s.consumer += p.cpu
    else if (p.comm === 'postgres' || p.comm.startsWith('postgres:')) s.postgres += p.cpu
    else if (p.comm === 'java' && isBroker(p.pid)) s.broker += p.cpu
  }
  // cpu  user nice system idle iowait irq softirq steal ...
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  const idle = f[3]! + f[4]!
  return {
    ...s,
    machineBusy: (total - idle) / clockTicks(),
    machineTotal: total / clockTicks(),
    machineIowait: f[4]! / clockTicks(),
  }
}

export interface CpuUse {
  /** CPU seconds over the window. */
  consumerSeconds: number
  postgresSeconds: number
  brokerSeconds: number
  machineBusySeconds: number
  /** The same per stored row, in microseconds. */
  consumerMicrosPerTrade: number
  postgresMicrosPerTrade: number
  brokerMicrosPerTrade: number
  machineMicrosPerTrade: number
  /** Share of every core's time that was busy over the window. */
  machineBusyShare: number
  /** Share of every core's time spent idle waiting for the disk. */
  machineIowaitShare: number
}

/** What was used between two snapshots, for `trades` rows. */
export function cpuUse(from: CpuSnapshot, to: CpuSnapshot, trades: number): CpuUse {
  const d = (k: keyof CpuSnapshot): number => Math.max(0, to[k] - from[k])
  const per = (seconds: number): number => (seconds * 1e6) / trades
  const total = d('machineTotal')
  return {
    consumerSeconds: d('consumer'),
    postgresSeconds: d('postgres'),
    brokerSeconds: d('broker'),
    machineBusySeconds: d('machineBusy'),
    consumerMicrosPerTrade: per(d('consumer')),
    postgresMicrosPerTrade: per(d('postgres')),
    brokerMicrosPerTrade: per(d('broker')),
    machineMicrosPerTrade: per(d('machineBusy')),
    machineBusyShare: total > 0 ? d('machineBusy') / total : 0,
    machineIowaitShare: total > 0 ? d('machineIowait') / total : 0,
  }
}

/**
 * Snapshots of the CPU every `everyMs` from its creation to stop(), so that a drain's window can be
 * cut afterwards from its rows' own first and last `stored_at`: how the drain was polled, or how
 * late its end was seen, then adds nothing to it.
 */
export class CpuTimeline {
  readonly #snapshots: { at: number; cpu: CpuSnapshot }[] = []
  readonly #pids: () => readonly number[]
  readonly #timer: NodeJS.Timeout

  constructor(pids: () => readonly number[], everyMs = 200) {
    this.#pids = pids
    this.#take()
    this.#timer = setInterval(() => this.#take(), everyMs)
    // A harness that fails mid-drain exits without waiting for it.
    this.#timer.unref()
  }

  #take(): void {
    this.#snapshots.push({ at: Date.now(), cpu: cpuSnapshot(this.#pids()) })
  }

  /**
   * The use from the last snapshot at or before `fromMs` to the first at or after `toMs` (taken
   * now if there is none yet), for `trades` rows; undefined when the timeline began after `fromMs`.
   * Call it while the consumer's processes still run.
   */
  window(fromMs: number, toMs: number, trades: number): CpuUse | undefined {
    const before = this.#snapshots.findLast((x) => x.at <= fromMs)
    if (!before) return undefined
    let after = this.#snapshots.find((x) => x.at >= toMs)
    if (!after) {
      this.#take()
      after = this.#snapshots.at(-1)!
    }
    return cpuUse(before.cpu, after.cpu, trades)
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}
