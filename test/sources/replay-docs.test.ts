// Every example of docs/replay.md, run as written in an empty directory: each command's output must
// be exactly what the docs show (stored times and prices through `tickflow sql`, refusals as their
// one line), a refusal exits non-zero without a stack trace, and a command shown without output
// succeeds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root } from '../support/kafka.ts'
import { runCli } from '../support/cli.ts'
import { docExamples } from '../support/doc-examples.ts'

const examples = docExamples(join(root, 'docs/replay.md'))

test('docs/replay.md has examples of every way of reading times and prices', () => {
  const all = examples.flatMap((e) => e.commands.map((c) => c.args.join(' '))).join('\n')
  for (const flag of ['--timezone', '--ts-unit', '--date', '--price-divisor', '--columns ts=1'])
    assert.ok(all.includes(flag), `no example uses ${flag}`)
  assert.ok(examples.length >= 8, `${examples.length} examples`)
})

for (const example of examples) {
  test(`docs/replay.md: ${example.title}`, { timeout: 180_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tickflow-docs-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    for (const [name, body] of Object.entries(example.files)) writeFileSync(join(dir, name), body)
    for (const cmd of example.commands) {
      assert.equal(cmd.args[0], 'tickflow')
      const run = await runCli(cmd.args.slice(1), { KAFKA_BROKERS: '', DATABASE_URL: '' }, dir)
      const shown = cmd.args.join(' ')
      assert.doesNotMatch(run.output, /^\s+at /m, `${shown}: stack trace\n${run.output}`)
      const refusal = cmd.expected[0]?.startsWith('tickflow: ') === true
      if (refusal) assert.notEqual(run.code, 0, `${shown} should be refused\n${run.output}`)
      else assert.equal(run.code, 0, `${shown}\n${run.output}`)
      if (cmd.expected.length > 0) assert.equal(run.output.trimEnd(), cmd.expected.join('\n'), shown)
    }
  })
}
