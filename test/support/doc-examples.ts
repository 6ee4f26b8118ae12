// Reads the runnable examples of a markdown document: under each `### ` heading, files given as
// "`name`:" followed by a fenced block, and a ```console block of `$ tickflow …` commands, each
// followed by the output it must print (exactly; nothing shown = output not compared).
import { readFileSync } from 'node:fs'

export interface DocCommand {
  args: string[]
  /** The output lines shown under the command (empty when the docs show none). */
  expected: string[]
}

export interface DocExample {
  title: string
  files: Record<string, string>
  commands: DocCommand[]
}

/** `a "b c" 'd'` → ['a', 'b c', 'd']: the quoting the examples use. */
export function shellWords(line: string): string[] {
  const words: string[] = []
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]!)
  return words
}

export function docExamples(path: string): DocExample[] {
  const lines = readFileSync(path, 'utf8').split('\n')
  const examples: DocExample[] = []
  let current: DocExample | undefined
  let fileName: string | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.startsWith('### ')) {
      current = { title: line.slice(4), files: {}, commands: [] }
      examples.push(current)
      continue
    }
    const named = /^`([^`]+)`:$/.exec(line)
    if (named) fileName = named[1]
    if (!current || !line.startsWith('```') || line === '```') continue
    const body: string[] = []
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!)
    if (line === '```console') {
      for (const l of body) {
        if (l.startsWith('$ ')) current.commands.push({ args: shellWords(l.slice(2)), expected: [] })
        else current.commands.at(-1)?.expected.push(l)
      }
    } else if (fileName !== undefined) {
      current.files[fileName] = `${body.join('\n')}\n`
      fileName = undefined
    }
  }
  return examples.filter((e) => e.commands.length > 0)
}
