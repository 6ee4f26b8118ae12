// How a recorded file is compressed, from its first bytes, so readers accept `data.csv` and
// `data.csv.gz` alike whatever the name says. Gzip (RFC 1952: ID1 0x1f, ID2 0x8b) is read as it
// is; other archives and compressions a download may come in are refused with what to do, instead
// of being parsed as text (a zip read as CSV was a header of binary noise, an xz file an internal
// error about a quote).
import { open } from 'node:fs/promises'

/** Formats refused by their magic bytes (each format's specification), with what to run instead. */
const REFUSED: { what: string; magic: number[]; instead: string }[] = [
  { what: 'a zip archive', magic: [0x50, 0x4b, 0x03, 0x04], instead: 'unzip it first' },
  { what: 'bzip2-compressed', magic: [0x42, 0x5a, 0x68], instead: 'bunzip2 it (or gzip it instead)' },
  {
    what: 'xz-compressed',
    magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    instead: 'unxz it (or gzip it instead)',
  },
  { what: 'zstd-compressed', magic: [0x28, 0xb5, 0x2f, 0xfd], instead: 'unzstd it (or gzip it instead)' },
  { what: 'a 7-Zip archive', magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], instead: 'extract it first' },
  { what: 'a Parquet file', magic: [0x50, 0x41, 0x52, 0x31], instead: 'export it as CSV first' },
]

/** A file in a format the readers refuse; the message names it and what to run instead. */
export class RefusedFormatError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RefusedFormatError'
  }
}

export function hasGzipMagic(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b
}

/**
 * Whether `file` is gzip-compressed (else it is read as text); RefusedFormatError for a format
 * that cannot be read as either. Errors opening it are the caller's to word.
 */
export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  const head = Buffer.alloc(8)
  try {
    await fh.read(head, 0, head.length, 0)
  } finally {
    await fh.close()
  }
  const refused = REFUSED.find((f) => f.magic.every((b, i) => head[i] === b))
  if (refused)
    throw new RefusedFormatError(
      `replay file ${file} is ${refused.what}: tickflow reads text files, plain or gzip-compressed; ${refused.instead}`,
    )
  return hasGzipMagic(head)
}
