// Where no container engine can be had, the compose tests say so in one loud line and skip, except
// under CI=true, where they fail: a green CI always means the stack ran. Checked in a child process
// whose PATH holds neither docker nor dockerd.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { root } from '../support/kafka.ts'

const child = `
const { engineOrSkip } = await import(${JSON.stringify(pathToFileURL(join(root, 'test/support/compose.ts')).href)})
try {
  const engine = await engineOrSkip({ skip: (msg) => console.log('skipped: ' + msg) })
  if (engine) console.log('engine')
} catch (err) {
  console.log('failed: ' + err.message)
  process.exitCode = 1
}`

function withoutEngine(env: Record<string, string>): {
  status: number | null
  stdout: string
  stderr: string
} {
  const empty = mkdtempSync(join(tmpdir(), 'tickflow-no-engine-'))
  try {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], {
      env: { PATH: empty, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  } finally {
    rmSync(empty, { recursive: true, force: true })
  }
}

const reason = 'COMPOSE STACK NOT RUN: dockerd is not installed (Debian package docker.io)'

test('no engine, CI=true: one loud line and the compose test fails', () => {
  const r = withoutEngine({ CI: 'true' })
  assert.equal(r.status, 1)
  assert.equal(r.stdout, `failed: ${reason} (CI=true requires it)\n`)
  assert.equal(r.stderr.trim(), `!!!!! ${reason} !!!!!`)
})

test('no engine outside CI: the same loud line, and the compose test is skipped, not passed', () => {
  const r = withoutEngine({})
  assert.equal(r.status, 0)
  assert.equal(r.stdout, `skipped: ${reason}\n`)
  assert.equal(r.stderr.trim(), `!!!!! ${reason} !!!!!`)
})
