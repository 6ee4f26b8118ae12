// compose.yml with the 3-broker override (compose.cluster.yml) built and run for real: one broker
// is stopped while a fixed-count simulator run is flowing, and the compose PostgreSQL still holds
// exactly the trades produced (count and checksum), nothing lost and nothing twice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import pg from 'pg'
import { root } from '../support/kafka.ts'
import { assertStoredExactly, ingestArgs, stored, type Batch } from '../support/compose-data.ts'
import {
  Project,
  cleanups,
  buildImages,
  engineOrSkip,
  freePort,
  inspect,
  must,
  waitFor,
} from '../support/compose.ts'

const PASSWORD = 'compose-cluster-secret'
const started = Date.now()
const note = (msg: string): void =>
  void process.stderr.write(
    `compose cluster stage: ${msg} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
  )

test(
  'compose.cluster.yml: stopping one broker while trades flow loses and duplicates nothing',
  { timeout: 30 * 60_000 },
  async (t) => {
    const engine = await engineOrSkip(t)
    if (!engine) return
    const later = cleanups(t)
    later(() => engine.stop())
    await buildImages()
    note('images built')

    const project = new Project(
      'tickflow-compose-cluster-test',
      ['compose.yml', 'compose.cluster.yml', 'test/deploy/compose.localhost.yml'],
      {
        POSTGRES_PASSWORD: PASSWORD,
        GRAFANA_ADMIN_PASSWORD: 'compose-cluster-grafana',
        PUBLISH_ADDRESS: '127.0.0.1',
        API_PUBLISH_PORT: String(await freePort()),
        PROMETHEUS_PUBLISH_PORT: String(await freePort()),
        GRAFANA_PUBLISH_PORT: String(await freePort()),
      },
    )
    await project.down() // what an interrupted earlier run may have left
    later(() => project.destroy())
    // Only the fixed-count run below produces trades, so the shipped unbounded ingest stays off.
    await project.composeOk('up', '-d', '--no-build', '--scale', 'ingest=0')
    await waitFor('three healthy brokers and a healthy processor', 240_000, async () => {
      const s = await inspect(await project.containers())
      const healthy = s.filter((c) => c.status === 'running' && c.health === 'healthy').map((c) => c.service)
      return (
        ['kafka', 'kafka-2', 'kafka-3', 'process', 'serve'].every((x) => healthy.includes(x)) || undefined
      )
    })
    note('cluster up')

    const db = new pg.Client({
      connectionString: `postgres://tickflow:${PASSWORD}@127.0.0.1:${await project.port('postgres', 5432)}/tickflow`,
    })
    await db.connect()
    later(() => db.end())

    // About 30 s of trades at 1,000 a second; kafka-2 is stopped once a fifth of them are stored.
    const batch: Batch = {
      symbols: ['CLA', 'CLB', 'CLC', 'CLD'],
      count: 30_000,
      seed: 21,
      start: '2026-01-07T14:30:00Z',
      rate: 1000,
    }
    const ingest = spawn('docker-compose', project.args(ingestArgs(batch)), { cwd: root, env: project.env })
    let output = ''
    ingest.stdout.on('data', (d: Buffer) => (output += d.toString()))
    ingest.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const ingestExit = new Promise<number>((resolve) => ingest.on('exit', (c) => resolve(c ?? 1)))
    later(() => void (ingest.exitCode === null && ingest.kill()))

    const before = await waitFor('trades flowing into the store', 180_000, async () => {
      const n = (await stored(db, batch.symbols)).count
      return n >= batch.count / 5 ? n : undefined
    })
    const [broker] = await project.containers('kafka-2')
    assert.ok(broker)
    await must('docker', ['stop', '--time', '5', broker])
    const during = (await stored(db, batch.symbols)).count
    note(`kafka-2 stopped with ${before}..${during} of ${batch.count} trades stored`)
    assert.ok(during < batch.count, 'the broker was stopped while trades were still flowing')
    assert.equal((await inspect([broker]))[0]!.status, 'exited')

    assert.equal(await ingestExit, 0, output)
    await assertStoredExactly(db, batch)
    note('every trade stored exactly once with one broker down')
  },
)
