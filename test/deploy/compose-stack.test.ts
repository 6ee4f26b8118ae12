// compose.yml built and run for real: the stand-in images (scripts/stand-ins.sh) and the project's
// images are built (cached between runs, rebuilt when their inputs change), the stack is started
// under its own project name with every published port on 127.0.0.1, and everything is checked
// through the published ports: health, the stored trades (count and checksum from the compose
// PostgreSQL), Prometheus targets, rules and counters, scaling the processor, and `down -v`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { parse } from 'yaml'
import { root } from '../support/kafka.ts'
import { assertStoredExactly, ingestArgs, type Batch } from '../support/compose-data.ts'
import {
  Project,
  cleanups,
  buildImages,
  engineOrSkip,
  freePort,
  inspect,
  must,
  prom,
  run,
  scalar,
  targets,
  waitFor,
} from '../support/compose.ts'

const PASSWORD = 'compose-test-secret'
const started = Date.now()
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`
const note = (msg: string): void => void process.stderr.write(`compose stage: ${msg} (${elapsed()})\n`)

async function totalStored(db: pg.Client): Promise<number> {
  return Number((await db.query<{ n: string }>('select count(*)::text as n from ticks')).rows[0]!.n)
}

/** tickflow_ticks_persisted_total summed over the processors Prometheus scrapes equals the table. */
async function assertPersistedMetricMatches(db: pg.Client, promPort: number): Promise<void> {
  const total = await totalStored(db)
  const metric = await waitFor('Prometheus to scrape the final persisted count', 60_000, async () => {
    const v = await scalar(promPort, 'sum(tickflow_ticks_persisted_total)')
    return v === total ? v : undefined
  }).catch(async () => scalar(promPort, 'sum(tickflow_ticks_persisted_total)'))
  assert.equal(metric, total)
}

test(
  'compose.yml: the stack runs, stores exactly, scales, and leaves nothing behind',
  { timeout: 40 * 60_000 },
  async (t) => {
    const engine = await engineOrSkip(t)
    if (!engine) return
    const later = cleanups(t)
    later(() => engine.stop())

    const appBuild = await buildImages()
    note('images built')
    // .dockerignore: the context is package*.json, tsconfig.json, bin/ and src/ (it was 379 MB).
    const context = /Sending build context to Docker daemon\s+([\d.]+)([kMG]?B)/.exec(appBuild)
    assert.ok(context, appBuild)
    assert.ok(
      context[2] === 'kB' || (context[2] === 'MB' && Number(context[1]) < 10),
      `context ${context[0]}`,
    )
    // The image's node_modules is its own npm ci, not the host's (which carries .tickflow-lock).
    assert.notEqual(
      (
        await run('docker', [
          'run',
          '--rm',
          '--entrypoint',
          'ls',
          'tickflow:local',
          'node_modules/.tickflow-lock',
        ])
      ).code,
      0,
    )
    // The default command (`up`, embedded PGlite in /app/data) runs as node: it failed with EACCES.
    const up = await run('docker', [
      'run',
      '--rm',
      'tickflow:local',
      'up',
      '--count',
      '500',
      '--rate',
      '0',
      '--seed',
      '3',
    ])
    assert.equal(up.code, 0, up.stderr)
    assert.match(up.stderr, /500 trades produced; the store holds 500 ticks and 0 dead letters \(pglite\)/)

    const [api, promPort, grafana] = [await freePort(), await freePort(), await freePort()]
    const project = new Project(
      'tickflow-compose-test',
      ['compose.yml', 'test/deploy/compose.localhost.yml'],
      {
        POSTGRES_PASSWORD: PASSWORD,
        GRAFANA_ADMIN_PASSWORD: 'compose-test-grafana',
        PUBLISH_ADDRESS: '127.0.0.1',
        API_PUBLISH_PORT: String(api),
        PROMETHEUS_PUBLISH_PORT: String(promPort),
        GRAFANA_PUBLISH_PORT: String(grafana),
      },
    )
    await project.down() // what an interrupted earlier run may have left
    later(() => project.destroy())
    await project.composeOk('up', '-d', '--no-build')
    note('stack up')

    await t.test('every service healthy, migrate exited 0, all as the image user', async () => {
      const states = await waitFor('every service healthy', 180_000, async () => {
        const s = await inspect(await project.containers())
        const ready = s.every((c) =>
          c.service === 'migrate'
            ? c.status === 'exited'
            : c.status === 'running' && (c.health ?? 'healthy') === 'healthy',
        )
        return ready && s.length === 9 ? s : undefined
      })
      assert.deepEqual(states.map((s) => s.service).sort(), [
        'grafana',
        'ingest',
        'kafka',
        'migrate',
        'postgres',
        'process',
        'prometheus',
        'schema-registry',
        'serve',
      ])
      const migrate = states.find((s) => s.service === 'migrate')!
      assert.equal(migrate.exitCode, 0)
      for (const s of states.filter((c) => ['ingest', 'process', 'serve', 'migrate'].includes(c.service))) {
        assert.equal(s.user, 'node', s.service)
        assert.equal(s.health, s.service === 'migrate' ? undefined : 'healthy', s.service)
      }
      for (const svc of ['ingest', 'process', 'serve'])
        assert.equal((await project.composeOk('exec', '-T', svc, 'id', '-u')).trim(), '1000', svc)
      // Through the published ports: the API, Prometheus and the Grafana placeholder answer.
      assert.equal((await fetch(`http://127.0.0.1:${api}/healthz`)).status, 200)
      assert.equal((await fetch(`http://127.0.0.1:${promPort}/-/ready`)).status, 200)
      assert.equal((await fetch(`http://127.0.0.1:${grafana}/api/health`)).status, 200)
    })

    await t.test('Prometheus: every target up and the alert rules loaded', async () => {
      const up = await waitFor('every Prometheus target up', 120_000, async () => {
        const ts = await targets(promPort)
        return ts.length > 0 && ts.every((x) => x.health === 'up') ? ts : undefined
      })
      assert.deepEqual(up.map((x) => x.labels.job).sort(), [
        'kafka',
        'tickflow-ingest',
        'tickflow-process',
        'tickflow-serve',
      ])
      const rules = await prom<{ groups: { rules: { type: string; name: string }[] }[] }>(
        promPort,
        '/api/v1/rules',
      )
      const loaded = rules.groups.flatMap((g) =>
        g.rules.filter((r) => r.type === 'alerting').map((r) => r.name),
      )
      // Every rule file prometheus.yml loads (tickflow's and the Spark job's).
      const config = parse(readFileSync(join(root, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
        rule_files: string[]
      }
      const declared = config.rule_files.flatMap((f) => {
        const file = parse(readFileSync(join(root, 'deploy/prometheus', f), 'utf8')) as {
          groups: { rules: { alert?: string }[] }[]
        }
        return file.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])))
      })
      assert.ok(declared.includes('TickflowSparkDown'))
      assert.ok(declared.length > 0)
      assert.deepEqual(loaded.sort(), declared.sort())
    })

    const db = new pg.Client({
      connectionString: `postgres://tickflow:${PASSWORD}@127.0.0.1:${await project.port('postgres', 5432)}/tickflow`,
    })
    await db.connect()
    later(() => db.end())

    await t.test(
      'a fixed-count simulator run stores exactly that many trades; the metric agrees',
      async () => {
        // The shipped ingest (simulator, unbounded) stops first, so the totals are fixed.
        await project.composeOk('stop', 'ingest')
        const batch: Batch = {
          symbols: ['CSA', 'CSB', 'CSC'],
          count: 4000,
          seed: 11,
          start: '2026-01-05T14:30:00Z',
          rate: 0,
        }
        await project.composeOk(...ingestArgs(batch))
        await assertStoredExactly(db, batch)
        await assertPersistedMetricMatches(db, promPort)
        note('fixed-count run stored exactly')
      },
    )

    await t.test('--scale process=3: three processor targets, and a second run stores exactly', async () => {
      await project.composeOk(
        'up',
        '-d',
        '--no-build',
        '--no-recreate',
        '--scale',
        'process=3',
        '--scale',
        'ingest=0',
      )
      await waitFor('three processor targets up', 120_000, async () => {
        const procs = (await targets(promPort)).filter((x) => x.labels.job === 'tickflow-process')
        return procs.length === 3 && procs.every((x) => x.health === 'up') ? true : undefined
      })
      const batch: Batch = {
        symbols: ['CSD', 'CSE', 'CSF', 'CSG'],
        count: 6000,
        seed: 12,
        start: '2026-01-06T14:30:00Z',
        rate: 0,
      }
      await project.composeOk(...ingestArgs(batch))
      await assertStoredExactly(db, batch)
      await assertPersistedMetricMatches(db, promPort)
      note('scaled run stored exactly')
    })

    await t.test('down -v leaves no container, network or volume of the project', async () => {
      await db.end().catch(() => {})
      assert.ok((await project.leftovers()).length > 0, 'the project had containers, a network and volumes')
      await project.composeOk('down', '-v', '--timeout', '5')
      assert.deepEqual(await project.leftovers(), [])
      assert.equal((await must('docker', ['ps', '-a', '-q', '--filter', `name=${project.name}`])).trim(), '')
      note('down -v left nothing')
    })
  },
)
