// A full disk under the store: PostgreSQL's own refusal (SQLSTATE 53100, "could not extend file …:
// No space left on device"), or ENOSPC from a file-system call, Node's or the one inside PGlite's
// WebAssembly. Retrying cannot help until someone frees space, so the commands stop on it.

import { statfsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DiskFullError, errorMessage } from '../errors.ts'
import { causes } from '../util/causes.ts'

// Class 53 is "insufficient resources"; 53100 is disk_full.
const DISK_FULL_SQLSTATE = '53100'

/** True when `err` or one of its causes says the disk holding the store is full. */
export function isDiskFull(err: unknown): boolean {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code
    if (code === DISK_FULL_SQLSTATE || code === 'ENOSPC' || code === 'EDQUOT') return true
  }
  return false
}

/**
 * Room PGlite needs to open a store (it writes a new WAL segment of 16 MiB as it starts). With less
 * its start fails with "PGlite failed to initialize properly" and no reason.
 */
const OPEN_ROOM_BYTES = 16 * 1024 * 1024

/** Bytes free on the file system holding `path` (or its nearest existing parent), if known. */
export function freeBytes(path: string): number | undefined {
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      const s = statfsSync(p)
      return s.bavail * s.bsize
    } catch {
      if (dirname(p) === p) return undefined
    }
  }
}

/**
 * The DiskFullError an embedded store's failure to open means, if it means one: ENOSPC, or less
 * room left than PGlite needs to start.
 */
export function embeddedDiskFull(dataDir: string, err: unknown): DiskFullError | undefined {
  if (err instanceof DiskFullError) return err
  const free = freeBytes(dataDir)
  const reason = isDiskFull(err)
    ? errorMessage(err)
    : free !== undefined && free < OPEN_ROOM_BYTES
      ? `${Math.floor(free / 1024)} KiB free; PGlite needs about 16 MiB to open it`
      : undefined
  if (reason === undefined) return undefined
  return new DiskFullError(
    `the disk holding the embedded store ${dataDir} is full (${reason}): free space on it, then run the command again`,
    { cause: err },
  )
}
