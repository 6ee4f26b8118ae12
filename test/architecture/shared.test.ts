// Mechanisms written once: a second backoff formula, symbol rule, gzip sniffer or exact-decimal
// module (a decimal type or a decimal parser of its own) in src/ fails here
// with the file that has it, pointing at the module to use instead.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

const src = resolve(import.meta.dirname, '../../src')

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'dist' || e.name === 'node_modules' ? [] : files(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

const rules: { what: string; pattern: RegExp; home: string }[] = [
  // An exponential bound: `2 ** n` or Math.pow(2, n).
  { what: 'a backoff formula', pattern: /\b2 \*\* |Math\.pow\(2\b/, home: 'util/backoff.ts' },
  // A character class of symbols, as the rule starts.
  { what: 'a symbol rule', pattern: /\[A-Z0-9\]\[A-Z0-9/, home: 'domain/symbol.ts' },
  // The gzip magic number's second byte.
  { what: 'a gzip sniffer', pattern: /0x8b\b/, home: 'util/gzip.ts' },
  // A decimal type or a decimal-text parser: bars, indicators and alerts share one exact arithmetic.
  {
    what: 'an exact-decimal module',
    pattern: /\binterface Dec\b|\btype Dec\s*=|\bfunction (?:parseDec|dec)\(/,
    home: 'domain/decimal.ts',
  },
]

test('backoff, the symbol rule, gzip sniffing and exact decimals are each written once', () => {
  const found: string[] = []
  const homes = new Set<string>()
  for (const file of files(src)) {
    const name = relative(src, file)
    const text = readFileSync(file, 'utf8')
    for (const r of rules)
      if (r.pattern.test(text)) {
        if (name === r.home) homes.add(name)
        else found.push(`src/${name} has ${r.what}: use src/${r.home}`)
      }
  }
  assert.deepEqual(found, [])
  // The patterns still find what they look for, where it belongs.
  assert.deepEqual([...homes].sort(), rules.map((r) => r.home).sort())
})

test('a second exact-decimal module is found', () => {
  const decimal = rules.find((r) => r.home === 'domain/decimal.ts')!
  // the heads of the two modules the alert evaluator and the bar aggregation once had of their own
  for (const copy of [
    'export interface Dec {\n  units: bigint\n  scale: number\n}',
    'function parseDec(decimal: string): Dec {',
    'export function dec(text: string): Dec {',
  ])
    assert.ok(decimal.pattern.test(copy), copy)
  assert.ok(decimal.pattern.test('type Dec = { v: bigint; s: number }'))
  // importing the one module is not having one
  assert.ok(!decimal.pattern.test("import { add, type Dec } from '../domain/decimal.ts'"))
  assert.ok(!decimal.pattern.test('const decimals = 2'))
})
