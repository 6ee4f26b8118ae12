// The examples of the "Indicators" section of docs/analytics.md run as written: the file is
// imported with the command shown, and each request answers exactly the JSON or CSV shown under it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../../src/api/app.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { root } from '../support/kafka.ts'
import { runCli } from '../support/cli.ts'
import { shellWords } from '../support/doc-examples.ts'
import { createTestDatabase } from '../support/postgres.ts'

/** The section from its heading to the next `## ` heading. */
function section(heading: string): string {
  const doc = readFileSync(join(root, 'docs/analytics.md'), 'utf8')
  const start = doc.indexOf(`\n## ${heading}\n`)
  assert.ok(start >= 0, `docs/analytics.md has no section "${heading}"`)
  const end = doc.indexOf('\n## ', start + 1)
  return doc.slice(start, end < 0 ? undefined : end)
}

/** Fenced blocks in order: their language and body; a file block is preceded by "`name`:". */
function blocks(text: string): { lang: string; body: string; file?: string }[] {
  const out = []
  for (const m of text.matchAll(/(?:`([^`\n]+)`:\n\n)?```(\w*)\n([\s\S]*?)\n```/g))
    out.push({ file: m[1], lang: m[2]!, body: m[3]! })
  return out
}

test('the examples of docs/analytics.md "Indicators" answer as shown', async (t) => {
  const found = blocks(section('Indicators'))
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-analytics-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const database = await createTestDatabase()
  t.after(() => database.drop())
  let requests = 0
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  const app = await buildApp({ metrics: createMetrics({ defaultMetrics: false }), db })
  t.after(() => app.close())
  for (let i = 0; i < found.length; i++) {
    const b = found[i]!
    if (b.file) writeFileSync(join(dir, b.file), `${b.body}\n`)
    else if (b.lang === 'console')
      for (const line of b.body.split('\n').filter((l) => l.startsWith('$ tickflow '))) {
        const r = await runCli(
          shellWords(line.slice('$ tickflow '.length)),
          { DATABASE_URL: database.url, KAFKA_BROKERS: '' },
          dir,
        )
        assert.equal(r.code, 0, `${line}: ${r.output}`)
      }
    else if (b.lang === 'http') {
      const url = /^GET (\S+)$/.exec(b.body.trim())?.[1]
      assert.ok(url, b.body)
      const expected = found[++i]!
      const res = await app.inject(url)
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
      if (expected.lang === 'json') assert.deepEqual(res.json(), JSON.parse(expected.body), url)
      else assert.equal(res.body, `${expected.body}\n`, url)
      requests++
    }
  }
  assert.equal(requests, 3)
})
