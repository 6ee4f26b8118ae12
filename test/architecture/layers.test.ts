// The folders of src/ are the data flow, and the imports must keep to it: a stage may import only
// the stages below it (domain types at the bottom, the command line at the top), and no module
// may reach itself through its imports. Read with TypeScript's own import scanner.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

const src = resolve(import.meta.dirname, '../../src')

// What each part of src/ may import besides itself. Data flows sources → bus → processor → store;
// the processor builds write plans the store persists, so store sits below processor; the API
// reads the store (and the processor's live bar types); the CLI wires everything.
const BASE = ['errors', 'domain', 'util']
const MAY_IMPORT: Record<string, string[]> = {
  errors: [],
  domain: [],
  // Shared mechanisms (backoff, timeouts, gzip sniffing) that know nothing of tickflow's data.
  util: [],
  config: ['errors', 'domain', 'util'],
  metrics: [],
  bus: [...BASE],
  // metrics imports nothing of tickflow's: file progress counters may be kept anywhere.
  store: [...BASE, 'metrics'],
  sources: [...BASE, 'config', 'metrics', 'bus'],
  processor: [...BASE, 'metrics', 'bus', 'store'],
  api: [...BASE, 'config', 'metrics', 'store', 'processor'],
  dashboard: ['domain', 'util'],
  cli: [...BASE, 'config', 'metrics', 'bus', 'store', 'sources', 'processor', 'api'],
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'dist' || e.name === 'node_modules' ? [] : sourceFiles(path)
    return /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : []
  })
}

/** The part of src/ a file belongs to: its top folder, or its name for a top-level file. */
const partOf = (file: string): string => relative(src, file).split('/')[0]!.replace(/\.ts$/, '')

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name))
}

const files = sourceFiles(src)
const graph = new Map(files.map((f) => [f, importsOf(f)]))

test('every part of src/ imports only the parts below it', () => {
  const violations: string[] = []
  for (const [file, imports] of graph) {
    const from = partOf(file)
    const allowed = MAY_IMPORT[from]
    assert.ok(
      allowed,
      `src/${from} has no place in the layering: add it to MAY_IMPORT in ${relative(process.cwd(), import.meta.filename)}`,
    )
    for (const target of imports) {
      const to = partOf(target)
      if (to !== from && !allowed.includes(to))
        violations.push(
          `${relative(src, file)} imports ${relative(src, target)} (${from} may not import ${to})`,
        )
    }
  }
  assert.deepEqual(violations, [])
})

test('src/ has no import cycle', () => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string): void => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue
      if (state.get(next) === 'open')
        cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(src, f)).join(' → '))
      else if (!state.has(next)) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of graph.keys()) if (!state.has(file)) visit(file)
  assert.deepEqual(cycles, [])
})

test('the scanner finds the imports it judges', () => {
  // Guards against a scanner that silently finds nothing: src/ has real imports to judge.
  const edges = [...graph.values()].reduce((n, imports) => n + imports.length, 0)
  assert.ok(edges > 100, `only ${edges} imports found`)
  const processor = join(src, 'processor/processor.ts')
  assert.ok(graph.get(processor)!.includes(join(src, 'store/ticks.ts')))
})
