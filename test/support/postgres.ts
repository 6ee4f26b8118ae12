// Finds a real PostgreSQL for tests and benchmarks: DATABASE_URL if set, else the server on
// 127.0.0.1:5432 if it answers, else a throwaway cluster made with initdb/pg_ctl. Each test file
// then gets its own database (createTestDatabase), dropped when it ends.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, chownSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'

export interface PostgresServer {
  /** URL of a database the tests may create databases from (the maintenance database). */
  adminUrl: string
  origin: 'DATABASE_URL' | 'local server' | 'throwaway cluster'
  stop(): Promise<void>
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

function pgBinDir(): string {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
  } catch {
    const base = '/usr/lib/postgresql'
    const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : []
    if (versions.length === 0) throw new Error('no PostgreSQL server binaries found (install postgresql)')
    return join(base, versions[0]!, 'bin')
  }
}

/**
 * Starts a throwaway cluster on `port`; as root it runs as the postgres user (initdb refuses root).
 * `wrap` prefixes its commands (the server then runs in the namespace they enter).
 */
export function startThrowawayCluster(
  port: number,
  wrap: string[] = [],
): PostgresServer & { dataDir: string; restart(): void; stopNow(): void; startNow(): void } {
  const bin = pgBinDir()
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-pg-'))
  const asRoot = process.getuid?.() === 0
  const run = (cmd: string, args: string[]): void => {
    const full = join(bin, cmd)
    // Stopping signals the server by its pid: it needs no namespace (which may be gone by then).
    const within = cmd === 'pg_ctl' && args.includes('stop') ? [] : wrap
    const line = [...within, ...(asRoot ? ['runuser', '-u', 'postgres', '--'] : []), full, ...args]
    execFileSync(line[0]!, line.slice(1), { stdio: 'ignore' })
  }
  if (asRoot)
    chownSync(
      dir,
      Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
      Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
    )
  const dataDir = join(dir, 'data')
  run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=on -c max_connections=200`
  const startNow = (): void =>
    run('pg_ctl', ['-D', dataDir, '-o', opts, '-l', join(dir, 'server.log'), '-w', 'start'])
  const stopNow = (): void => run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop'])
  startNow()
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    origin: 'throwaway cluster',
    dataDir,
    startNow,
    stopNow,
    restart() {
      stopNow()
      startNow()
    },
    stop() {
      try {
        stopNow()
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
      return Promise.resolve()
    },
  }
}

export async function findPostgres(env: NodeJS.ProcessEnv = process.env): Promise<PostgresServer> {
  if (env.DATABASE_URL) {
    if (!(await answers(env.DATABASE_URL)))
      throw new Error('DATABASE_URL is set but the server does not answer')
    return { adminUrl: env.DATABASE_URL, origin: 'DATABASE_URL', stop: () => Promise.resolve() }
  }
  for (const url of ['postgres://postgres@127.0.0.1:5432/postgres', 'postgres://127.0.0.1:5432/postgres']) {
    if (await answers(url)) return { adminUrl: url, origin: 'local server', stop: () => Promise.resolve() }
  }
  return startThrowawayCluster(55432)
}

export interface TestDatabase {
  url: string
  name: string
  drop(): Promise<void>
}

/** A fresh, uniquely named database on the test server (TICKFLOW_TEST_PG_ADMIN_URL). */
export async function createTestDatabase(
  adminUrl = process.env.TICKFLOW_TEST_PG_ADMIN_URL,
): Promise<TestDatabase> {
  if (!adminUrl)
    throw new Error('TICKFLOW_TEST_PG_ADMIN_URL is not set: run the tests through scripts/test.sh')
  const name = `tickflow_test_${randomBytes(5).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl })
      await c.connect()
      try {
        await c.query(`drop database if exists ${name} with (force)`)
      } finally {
        await c.end()
      }
    },
  }
}

/** A fresh database on the test server, migrated, connected; closed and dropped after the test. */
export async function migratedPostgres(t: TestContext): Promise<Db> {
  const d = await createTestDatabase()
  const db = connectPostgres(d.url)
  t.after(async () => {
    await db.close()
    await d.drop()
  })
  await migrate(db)
  return db
}
