// mkdir -p without { recursive: true }: Node 24's recursive mkdirSync never returns for a path
// under /proc (e.g. LOG_FILE=/proc/nope/x.log hung the process before it had a logger). Walks the
// path's components instead, so a directory that cannot be made fails with its own error.
import { mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

export function makeDirs(path: string): void {
  const missing: string[] = []
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      if (statSync(dir).isDirectory()) break
      throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw err
      missing.push(dir)
    }
  }
  for (const dir of missing.reverse()) mkdirSync(dir)
}
