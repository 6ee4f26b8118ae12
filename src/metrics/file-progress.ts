// How far the readers of input files (replay, daily import) are, in bytes of the file on disk (so
// also for gzip files), for the command line's progress bar. Readers open files through
// trackedReadStream; the bar polls readProgress. The last read of each file is kept (one small
// entry per file a process reads), so the bar still shows 100 % after the reader closed it.
import { createReadStream, statSync, type ReadStream } from 'node:fs'
import { resolve } from 'node:path'

const reads = new Map<string, { stream: ReadStream; size: number }>()

export function trackedReadStream(file: string): ReadStream {
  const stream = createReadStream(file)
  const key = resolve(file)
  reads.set(key, { stream, size: statSync(file).size })
  return stream
}

/** Bytes read and the file's size, once a reader opened it. */
export function readProgress(file: string): { read: number; size: number } | undefined {
  const r = reads.get(resolve(file))
  return r ? { read: r.stream.bytesRead, size: r.size } : undefined
}
