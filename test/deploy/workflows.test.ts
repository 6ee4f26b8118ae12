// The GitHub Actions workflows validate against SchemaStore's published github-workflow.json
// schema (built into @action-validator/core), CI runs .ci/run within the 30-minute budget, and a
// release builds and pushes both images with provenance and publishes that version's changelog.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { validateWorkflow } from '@action-validator/core'
import { root } from '../support/kafka.ts'

interface Step {
  uses?: string
  run?: string
  with?: Record<string, unknown>
}
interface Workflow {
  on: Record<string, unknown>
  jobs: Record<
    string,
    { 'timeout-minutes'?: number; steps: Step[]; strategy?: { matrix: { include: unknown[] } } }
  >
}

const read = (f: string): string => readFileSync(join(root, f), 'utf8')
const files = ['.github/workflows/ci.yml', '.github/workflows/release.yml']

test('both workflows validate against the published GitHub workflow schema', () => {
  for (const f of files) assert.deepEqual(validateWorkflow(read(f)).errors, [], f)
  // The validator does reject what the schema forbids: a job without runs-on.
  const broken = read(files[0]!).replace(/^ {4}runs-on: .*\n/m, '')
  assert.notDeepEqual(validateWorkflow(broken).errors, [])
})

test('ci.yml runs .ci/run with CI=true, within 60 minutes', () => {
  const wf = parse(read(files[0]!)) as Workflow
  const job = wf.jobs.ci!
  // The suite took 51 min on a clean clone with cold compose images and the Spark stage.
  assert.ok(job['timeout-minutes']! <= 60)
  const step = job.steps.find((s) => s.run?.includes('.ci/run'))
  assert.ok(step, 'a step runs .ci/run')
  assert.match(read(files[0]!), /CI: 'true'/)
})

test('release.yml: on a version tag, both images pushed with provenance, the changelog attached', () => {
  const wf = parse(read(files[1]!)) as Workflow
  assert.deepEqual(wf.on, { push: { tags: ['v[0-9]+.[0-9]+.[0-9]+'] } })
  const images = wf.jobs.images!
  assert.deepEqual(images.strategy!.matrix.include, [
    { image: 'tickflow', context: '.' },
    { image: 'tickflow-kafka', context: 'deploy/kafka' },
  ])
  const build = images.steps.find((s) => s.uses?.startsWith('docker/build-push-action@'))
  assert.equal(build?.with?.push, true)
  assert.equal(build?.with?.provenance, 'mode=max')
  const release = wf.jobs.release!.steps.map((s) => s.run ?? '').join('\n')
  assert.match(release, /scripts\/release-notes\.sh "\$GITHUB_REF_NAME" > release-notes\.md/)
  assert.match(release, /gh release create .*--notes-file release-notes\.md CHANGELOG\.md/)
})

test("scripts/release-notes.sh prints exactly the tag's changelog section, and fails without one", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-changelog-'))
  try {
    const changelog = join(dir, 'CHANGELOG.md')
    writeFileSync(
      changelog,
      '# Changelog\n\n## [Unreleased]\n\n- api: next\n\n## [1.2.0] - 2026-11-25\n\n### Added\n\n- api: one\n\n## [1.1.0]\n\n- store: old\n',
    )
    const script = join(root, 'scripts/release-notes.sh')
    assert.equal(
      execFileSync('bash', [script, 'v1.2.0', changelog], { encoding: 'utf8' }),
      '\n### Added\n\n- api: one\n',
    )
    const missing = spawnSync('bash', [script, 'v1.3.0', changelog], { encoding: 'utf8' })
    assert.equal(missing.status, 1)
    assert.equal(missing.stderr, `release-notes: ${changelog} has no section for version 1.3.0\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
