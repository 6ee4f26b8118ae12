// scripts/system-deps.sh, the one list of Debian packages the tests need (run first by
// scripts/test.sh and .ci/run), as a user who may not install: run as `nobody` (setpriv, when the
// suite runs as root) with a PATH that hides some packages' programs, it stops at once with one
// line giving the exact install command; with everything present it says nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root } from '../support/kafka.ts'

const script = join(root, 'scripts/system-deps.sh')
// The programs the script looks for, plus `id`, which it runs.
const programs = [
  'chromium',
  'prometheus',
  'promtool',
  'java',
  'mvn',
  'dockerd',
  'docker-compose',
  'mmdebstrap',
  'id',
]

function which(program: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' })
  assert.equal(r.status, 0, `${program} is not installed here, so this test cannot hide it`)
  return r.stdout.trim()
}

/** Runs the script as a non-root user with a PATH holding every program but `hidden`. */
function runWithout(hidden: string[]): { status: number | null; stdout: string; stderr: string } {
  const bin = mkdtempSync(join(tmpdir(), 'tickflow-path-'))
  try {
    chmodSync(bin, 0o755)
    for (const p of programs) if (!hidden.includes(p)) symlinkSync(which(p), join(bin, p))
    const asUser =
      process.getuid?.() === 0 ? [which('setpriv'), '--reuid=65534', '--regid=65534', '--clear-groups'] : []
    const [cmd, ...args] = [...asUser, '/bin/bash', script]
    const r = spawnSync(cmd, args, { env: { PATH: bin }, encoding: 'utf8', timeout: 30_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  } finally {
    rmSync(bin, { recursive: true, force: true })
  }
}

const line = (pkgs: string): string =>
  `tickflow: missing system packages (${pkgs}); install them as root: ` +
  `apt-get update && apt-get install -y -q --no-install-recommends ${pkgs}\n`

test('not root and promtool missing: one line with the exact install command, exit 1', () => {
  const r = runWithout(['promtool'])
  assert.equal(r.status, 1)
  assert.equal(r.stderr, line('prometheus'))
  assert.equal(r.stdout, '')
})

test('not root and several missing: every package named once, in one line', () => {
  const r = runWithout(['chromium', 'mvn', 'dockerd', 'docker-compose'])
  assert.equal(r.status, 1)
  assert.equal(r.stderr, line('chromium maven docker.io docker-compose'))
})

test('not root and nothing missing: silent, exit 0', () => {
  const r = runWithout([])
  assert.deepEqual(r, { status: 0, stdout: '', stderr: '' })
})
