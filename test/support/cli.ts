// Runs the tickflow CLI as a real child process (the processes the fault tests kill).
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { root } from './kafka.ts'
import { envFor, nodeFlagsFor } from '../../src/cli/node-flags.ts'

export interface CliProcess {
  child: ChildProcess
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** `wrap` prefixes the command line (e.g. to run it in another namespace: test/support/small-disk.ts). */
export function startCli(
  args: string[],
  env: Record<string, string>,
  cwd = root,
  wrap: string[] = [],
): CliProcess {
  // As ./tickflow starts the command.
  const flags = nodeFlagsFor(args[0])
  const line = [...wrap, process.execPath, ...flags, join(root, 'bin/tickflow.js'), ...args]
  const child = spawn(line[0]!, line.slice(1), {
    cwd,
    env: { ...envFor(args[0]), ...process.env, LOG_LEVEL: 'warn', HTTP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, output: () => out, exited }
}

export async function runCli(
  args: string[],
  env: Record<string, string>,
  cwd = root,
): Promise<{ code: number | null; output: string }> {
  const p = startCli(args, env, cwd)
  const { code } = await p.exited
  return { code, output: p.output() }
}
