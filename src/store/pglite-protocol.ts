// The messages between the main thread (db.ts) and the embedded store's thread (pglite-worker.ts).

import type { CopyRows } from './copy-text.ts'

export type PgliteRequest =
  | { id: number; op: 'query'; tx?: number; sql: string; params?: unknown[] }
  | { id: number; op: 'exec'; tx?: number; sql: string }
  | { id: number; op: 'copyIn'; tx?: number; sql: string; rows: CopyRows }
  | { id: number; op: 'begin' | 'commit' | 'rollback'; tx: number }
  | { id: number; op: 'close' }

export type PgliteReply =
  | { id: number; ok: true; rows?: unknown[] }
  | { id: number; ok: false; error: SerializedError }
  | { id: 0; ready: true }
  | { id: 0; ready: false; error: SerializedError }

/** An error's message and its own string and number fields (SQLSTATE `code`, `detail`, …). */
export type SerializedError = { message: string; fields: Record<string, string | number> }

// PGlite's file system (Emscripten's) throws `ErrnoError { errno }`, not an Error, with the WASI
// numbering of errno: these are the ones a store's disk or directory can cause.
const WASI_ERRNO: Record<number, [code: string, text: string]> = {
  2: ['EACCES', 'permission denied'],
  19: ['EDQUOT', 'disk quota exceeded'],
  29: ['EIO', 'input/output error'],
  44: ['ENOENT', 'no such file or directory'],
  51: ['ENOSPC', 'no space left on device'],
  54: ['ENOTDIR', 'not a directory'],
  63: ['EPERM', 'operation not permitted'],
  69: ['EROFS', 'read-only file system'],
}

export function serializeError(err: unknown): SerializedError {
  const errno = (err as { errno?: unknown } | null)?.errno
  if (!(err instanceof Error) && typeof errno === 'number') {
    const [code, text] = WASI_ERRNO[errno] ?? [`errno ${errno}`, 'file system error']
    return { message: `${code}: ${text}`, fields: { code, errno } }
  }
  if (!(err instanceof Error)) return { message: String(err), fields: {} }
  const fields: Record<string, string | number> = { name: err.name }
  for (const [k, v] of Object.entries(err)) if (typeof v === 'string' || typeof v === 'number') fields[k] = v
  return { message: err.message, fields }
}
