import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from '../command.ts'
import { UsageError } from '../../errors.ts'
import { exitOfChild } from '../child.ts'

export const bench: Command = {
  rawArgs: true,
  summary:
    'the benchmark harness: Kafka and COPY limits, pipeline throughput, latency, memory, naive baseline',
  async run(ctx) {
    // The harness lives in bench/ (it starts its own broker like the tests) and checks its flags.
    const script = join(import.meta.dirname, '../../../bench/run.ts')
    if (!existsSync(script)) throw new UsageError('tickflow bench needs a source checkout (bench/run.ts)')
    // The harness runs in its own process group with the Java tools it starts, and a signal to
    // tickflow goes to that whole group: the harness blocks while a tool runs, and the tool must
    // stop first for the harness to kill its broker and remove its directory.
    const child = spawn(process.execPath, [script, ...ctx.args], { stdio: 'inherit', detached: true })
    return exitOfChild(child, (sig) => {
      if (child.exitCode === null && child.pid) process.kill(-child.pid, sig)
    })
  },
}
