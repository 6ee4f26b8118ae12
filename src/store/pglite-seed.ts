// A new embedded store starts as a copy of an empty, initialised PGlite cluster instead of running
// initdb itself. initdb under WASM takes seconds and, with V8's optimising compiler, over 1 GiB of
// memory; opening an initialised directory takes about half a second. The empty cluster (the
// template) is made once per PGlite version, in a short-lived child process so the memory of
// initdb is never the pipeline's, and kept in the user's cache directory. A template that cannot
// be made or copied (no cache directory, a read-only home) only costs the time it saves: PGlite
// then initialises the store itself, as before.
import { execFile } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { DiskFullError } from '../errors.ts'
import { freeBytes, isDiskFull } from './disk-full.ts'
import { BASELINE_WASM_FLAGS } from './wasm-tier.ts'

const run = promisify(execFile)
const initScript = fileURLToPath(new URL('./pglite-init.ts', import.meta.url))

/** The installed PGlite's version: a template made by one version is never used by another. */
function pgliteVersion(): string {
  const entry = fileURLToPath(import.meta.resolve('@electric-sql/pglite'))
  const pkg = join(dirname(dirname(entry)), 'package.json')
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version
}

/** $XDG_CACHE_HOME/tickflow, else ~/.cache/tickflow. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tickflow')
}

const isCluster = (dir: string): boolean => existsSync(join(dir, 'PG_VERSION'))
const isEmptyOrMissing = (dir: string): boolean => !existsSync(dir) || readdirSync(dir).length === 0
const scratch = (dir: string): string => `${dir}.${process.pid}.${Date.now().toString(36)}`

let making: Promise<string> | undefined

/** The template's directory, made on first use; concurrent makers (processes too) agree on one. */
function template(): Promise<string> {
  making ??= (async () => {
    const dir = join(cacheDir(), `pglite-${pgliteVersion()}`)
    if (isCluster(dir)) return dir
    mkdirSync(dirname(dir), { recursive: true })
    const tmp = scratch(dir)
    try {
      // initdb parses thousands of statements: with WebAssembly kept at the baseline tier it peaks
      // at 650-700 MiB against 1,130-1,150 MiB, and takes no longer (2.1 against 2.3 s).
      await run(process.execPath, [...BASELINE_WASM_FLAGS, initScript, tmp], { timeout: 120_000 })
      if (!isCluster(tmp)) throw new Error('initdb left no cluster')
      // Another process may have finished first: its template is as good as ours, and it is never
      // removed, since others may be copying it. (A rename onto a directory that holds files fails.)
      try {
        renameSync(tmp, dir)
      } catch (err) {
        if (!isCluster(dir)) throw err
      }
      return dir
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  })()
  making.catch(() => (making = undefined))
  return making
}

/**
 * Fills `dataDir` with a copy of the template when it holds no store yet. Returns whether it did;
 * false leaves the directory as it was for PGlite to initialise.
 */
export async function seedPglite(dataDir: string): Promise<boolean> {
  if (isCluster(dataDir) || !isEmptyOrMissing(dataDir)) return false
  const tmp = scratch(dataDir)
  let source: string | undefined
  try {
    source = await template()
    cpSync(source, tmp, { recursive: true })
    // The copy appears whole or not at all.
    rmSync(dataDir, { recursive: true, force: true })
    renameSync(tmp, dataDir)
    return true
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true })
    // A disk too full for the copy is too full for PGlite's own initdb as well, which would only
    // fail later, after a second of work and a gigabyte of memory, leaving half a store behind.
    // (A copy onto a full tmpfs fails with EIO, not ENOSPC: the room left says it.)
    const needed = source === undefined ? 0 : treeBytes(source)
    const free = freeBytes(dirname(tmp)) ?? Infinity
    if (isDiskFull(err) || free < needed)
      throw new DiskFullError(
        `the disk holding the embedded store ${dataDir} is full (a new store needs ${mib(needed)} MiB, ${mib(free)} MiB free): free space on it, then run the command again`,
        { cause: err },
      )
    mkdirSync(dataDir, { recursive: true })
    return false
  }
}

const mib = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1)

/** The bytes of the files under `dir`. */
function treeBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  return total
}
