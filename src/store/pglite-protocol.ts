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

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { message: String(err), fields: {} }
  const fields: Record<string, string | number> = { name: err.name }
  for (const [k, v] of Object.entries(err)) if (typeof v === 'string' || typeof v === 'number') fields[k] = v
  return { message: err.message, fields }
}
