// One writer per embedded store. The data directory holds `tickflow.lock`, created with O_EXCL and
// holding the owner's pid and host; a second process finds it, checks the pid is alive and stops
// before touching anything. A lock whose process is dead is taken over.
//
// Why not proper-lockfile: its staleness is an mtime kept fresh by a timer, so a crashed holder
// blocks the directory for the stale period and the lock does not say who holds it. A pid file
// names the holder in the error and tells a dead holder at once (same host: kill(pid, 0)).
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { makeDirs } from './make-dirs.ts'
import { ConfigError, TickflowError, errorMessage } from '../errors.ts'

interface Holder {
  pid: number
  host: string
}

const LOCK = 'tickflow.lock'

function readHolder(path: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, host: h.host } : undefined
  } catch {
    return undefined
  }
}

function alive(h: Holder): boolean {
  if (h.host !== hostname()) return true // cannot check another machine: assume it is running
  try {
    process.kill(h.pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** Moves a dead holder's lock aside; a live lock moved by a racing taker is put back. */
function takeOver(path: string, stale: Holder | undefined): void {
  const aside = `${path}.stale-${process.pid}`
  try {
    renameSync(path, aside)
  } catch {
    return // someone else moved it first
  }
  const moved = readHolder(aside)
  if (moved && (moved.pid !== stale?.pid || moved.host !== stale.host) && alive(moved))
    try {
      linkSync(aside, path)
    } catch {
      // a third process already holds a new lock; the retry sees it
    }
  rmSync(aside, { force: true })
}

/**
 * Takes the data directory for this process, or throws TF_DATA_DIR_LOCKED naming the holder.
 * Returns the release function (also run at exit).
 */
export function lockDataDir(dataDir: string): () => void {
  const dir = resolve(dataDir)
  try {
    makeDirs(dir)
  } catch (err) {
    throw new ConfigError(
      `invalid --data-dir / TICKFLOW_DATA_DIR ${JSON.stringify(dir)}: ${errorMessage(err)}`,
    )
  }
  const path = join(dir, LOCK)
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }))
      closeSync(fd)
      return releaser(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new ConfigError(
          `invalid --data-dir / TICKFLOW_DATA_DIR ${JSON.stringify(dir)}: cannot create ${LOCK}: ${errorMessage(err)}`,
        )
    }
    const holder = readHolder(path)
    if (holder && alive(holder))
      throw new TickflowError(
        'TF_DATA_DIR_LOCKED',
        `data directory ${dir} is in use by tickflow process ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}; stop it or use another --data-dir / TICKFLOW_DATA_DIR`,
      )
    // An unreadable lock younger than a second is being written by its creator: wait for it.
    if (!holder && Date.now() - (statMs(path) ?? 0) < 1000) {
      pause(20)
      continue
    }
    takeOver(path, holder)
  }
  throw new TickflowError('TF_DATA_DIR_LOCKED', `data directory ${dir}: could not take ${LOCK}`)
}

function statMs(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs
  } catch {
    return undefined
  }
}

function releaser(path: string): () => void {
  let released = false
  const release = (): void => {
    if (released) return
    released = true
    process.off('exit', release)
    const h = readHolder(path)
    if (h?.pid === process.pid && h.host === hostname()) rmSync(path, { force: true })
  }
  process.on('exit', release)
  return release
}
