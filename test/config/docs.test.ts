// Docs that cannot drift: docs/configuration.md is what the schema renders; every error code is
// documented and every documented code exists; every file named in help or docs exists.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { configDocsPath, envExamplePath } from '../../src/config/docs.ts'
import { envExample, formattedConfigDocs } from '../../src/cli/config-docs.ts'
import { allSettings } from '../../src/cli/settings.ts'
import { loadConfig } from '../../src/config/load.ts'
import { errorCodes } from '../../src/errors.ts'
import { generalHelp, commandHelp } from '../../src/cli/help.ts'
import { commands } from '../../src/cli/commands/index.ts'
import { root } from '../support/kafka.ts'

test('docs/configuration.md is generated from the schema (npm run docs:config)', async () => {
  const page = readFileSync(configDocsPath, 'utf8')
  assert.equal(page, await formattedConfigDocs(), 'docs/configuration.md is stale: run npm run docs:config')
  for (const s of allSettings) assert.ok(page.includes(`\`${s.key}\``), `${s.key} missing from the page`)
})

test("the sources' part of .env.example is written from their declarations (npm run docs:config)", () => {
  assert.equal(
    readFileSync(envExamplePath, 'utf8'),
    envExample(),
    '.env.example is stale: run npm run docs:config',
  )
})

test('the Config type comes from the schema: defaults and transforms apply', () => {
  const c = loadConfig({
    env: { HTTP_PORT: '9000', TICKFLOW_SYMBOLS: 'aapl, msft' },
    dotenvPath: '/nonexistent',
  })
  assert.equal(c.httpPort, 9000)
  assert.deepEqual(c.symbols, ['AAPL', 'MSFT'])
  assert.equal(c.allowedLateness, 5000)
  assert.equal(c.kafkaBrokers, undefined)
  assert.throws(
    () => loadConfig({ flags: { duration: 'soon' }, env: {}, dotenvPath: '/nonexistent' }),
    /^ConfigError: invalid --duration: "soon" expected a duration such as 500ms, 30s, 5m or 1h$/,
  )
})

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  )
}

test('error codes are a closed list, each documented in docs/errors.md and nothing more', () => {
  const page = readFileSync(join(root, 'docs/errors.md'), 'utf8')
  const documented = new Set([...page.matchAll(/^\| `(TF_[A-Z_]+)`/gm)].map((m) => m[1]))
  assert.deepEqual([...documented].sort(), Object.keys(errorCodes).sort())
  // No code is built from a string at run time.
  for (const file of walk(join(root, 'src')).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(file, 'utf8')
    assert.doesNotMatch(text, /TF_\$\{/, file)
    for (const m of text.matchAll(/'(TF_[A-Z_]+)'/g)) assert.ok(m[1]! in errorCodes, `${file}: ${m[1]}`)
  }
})

/** Files the tools write (git-ignored outputs such as the benchmark's results) may be absent. */
function isOutput(path: string): boolean {
  return spawnSync('git', ['check-ignore', '-q', path], { cwd: root }).status === 0
}

test('every file named in help and docs exists', () => {
  const texts = [
    generalHelp(commands),
    ...Object.entries(commands).map(([n, c]) => commandHelp(n, c)),
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => readFileSync(join(root, 'docs', f), 'utf8')),
    readFileSync(join(root, 'README.md'), 'utf8'),
  ]
  let named = 0
  for (const text of texts)
    for (const m of text.matchAll(/(?<![\w/.-])((?:docs|src|bench|scripts|deploy|test)\/[\w./-]*\w)/g)) {
      named++
      assert.ok(existsSync(join(root, m[1]!)) || isOutput(m[1]!), `${m[1]} is named but does not exist`)
    }
  assert.ok(named > 5)
})
