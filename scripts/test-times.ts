// A node:test reporter that writes how long each test file took, slowest first, one
// `seconds<TAB>file` line each. scripts/test.ts adds it next to the usual reporter so every run
// leaves .cache/test-times.tsv behind: the place to look when the suite gets slower.
// Files run one at a time (--test-concurrency=1), so a file's time is from its first event to
// the next file's first event (or the end of the run), which includes its imports and hooks.
import { relative } from 'node:path'

interface Event {
  type: string
  data?: { file?: string }
}

export default async function* testTimes(source: AsyncIterable<Event>): AsyncGenerator<string> {
  const seconds = new Map<string, number>()
  let current: string | undefined
  let since = performance.now()
  const close = (): void => {
    const now = performance.now()
    if (current !== undefined) seconds.set(current, (seconds.get(current) ?? 0) + (now - since) / 1000)
    since = now
  }
  for await (const event of source) {
    const file = event.data?.file
    if (file === undefined || file === current) continue
    close()
    current = file
  }
  close()
  const rows = [...seconds].sort((a, b) => b[1] - a[1])
  for (const [file, s] of rows) yield `${s.toFixed(1)}\t${relative(process.cwd(), file)}\n`
}
