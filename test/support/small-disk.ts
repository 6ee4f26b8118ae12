// A small file system for the tests of a full disk: a tmpfs mounted in a mount namespace of the
// test's own (unshare), held open by a sleeping process. Commands that should see it run inside
// with `wrap` (nsenter); nothing is mounted where the rest of the machine looks, and the file
// system goes away with the namespace. Mounting needs root, which CI has.
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

export interface SmallDisk {
  /** The mount point, seen by commands run with `wrap`. */
  dir: string
  /** Prefix of a command line that runs it inside the namespace. */
  wrap: string[]
  /** Runs a command inside the namespace; returns its standard output. */
  run(cmd: string, args: string[]): string
  /** Grows or shrinks the file system: "freeing space". */
  resize(megabytes: number): void
}

export async function smallDisk(
  t: TestContext,
  megabytes: number,
  owner?: { uid: number; gid: number },
): Promise<SmallDisk> {
  if (process.getuid?.() !== 0)
    throw new Error('the full-disk tests mount a small file system: run them as root')
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-small-disk-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const options = [
    `size=${megabytes}m`,
    ...(owner ? [`uid=${owner.uid}`, `gid=${owner.gid}`, 'mode=0700'] : []),
  ]
  const holder = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      `mount -t tmpfs -o ${options.join(',')} tickflow-small-disk "$1" && echo mounted && exec sleep 3600`,
      'sh',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  t.after(() => void holder.kill('SIGKILL'))
  let said = ''
  holder.stderr.on('data', (d: Buffer) => (said += d.toString()))
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d: Buffer) => (d.toString().includes('mounted') ? resolve() : undefined))
    holder.on('exit', (code) =>
      reject(new Error(`could not mount a small file system (exit ${code}): ${said}`)),
    )
  })
  const wrap = ['nsenter', '-t', String(holder.pid), '-m', '--']
  const run = (cmd: string, args: string[]): string =>
    execFileSync(wrap[0]!, [...wrap.slice(1), cmd, ...args], { encoding: 'utf8' })
  return {
    dir,
    wrap,
    run,
    resize: (mb) => void run('mount', ['-o', `remount,size=${mb}m`, dir]),
  }
}
