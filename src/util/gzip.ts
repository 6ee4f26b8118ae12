// Whether a file is gzip-compressed, from its first two bytes (RFC 1952: ID1 0x1f, ID2 0x8b), so
// readers accept `data.csv` and `data.csv.gz` alike whatever the name says.
import { open } from 'node:fs/promises'

export function hasGzipMagic(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b
}

/** Reads the first two bytes of `file`; errors opening it are the caller's to word. */
export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  try {
    const head = Buffer.alloc(2)
    await fh.read(head, 0, 2, 0)
    return hasGzipMagic(head)
  } finally {
    await fh.close()
  }
}
