// Starts the real schema registry (Apicurio Registry 2.4.2, built by scripts/schema-registry.sh)
// on loopback for tests and benchmarks, keeping its schemas in a PostgreSQL database, so a restart
// (or a SIGKILL) loses no schema id.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { root } from './kafka.ts'

const jar = join(root, 'deploy/schema-registry/target/quarkus-app/quarkus-run.jar')

export interface Registry {
  /** The Confluent-compatible API: http://127.0.0.1:PORT/apis/ccompat/v7 */
  url: string
  pid(): number | undefined
  start(): Promise<void>
  /** SIGKILL: a crash. */
  kill(): Promise<void>
  stop(): Promise<void>
}

/** `databaseUrl`: postgres://user@host:port/db of an existing database the registry may own. */
export async function startRegistry(port: number, databaseUrl: string, logFile: string): Promise<Registry> {
  if (!existsSync(jar)) throw new Error('schema registry not built: run scripts/schema-registry.sh')
  const db = new URL(databaseUrl)
  const jdbc = `jdbc:postgresql://${db.hostname}:${db.port || 5432}${db.pathname}`
  const url = `http://127.0.0.1:${port}/apis/ccompat/v7`
  let child: ChildProcess | undefined
  const alive = (): boolean => !!child && child.exitCode === null && child.signalCode === null
  const exited = (): Promise<void> =>
    alive() ? new Promise((r) => child!.once('exit', () => r())) : Promise.resolve()
  const r: Registry = {
    url,
    pid: () => child?.pid,
    async start() {
      const out = openSync(logFile, 'a')
      child = spawn('java', ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx256m', '-jar', jar], {
        stdio: ['ignore', out, out],
        env: {
          ...process.env,
          HTTP_PORT: String(port),
          QUARKUS_HTTP_HOST: '127.0.0.1',
          REGISTRY_DATASOURCE_URL: jdbc,
          REGISTRY_DATASOURCE_USERNAME: decodeURIComponent(db.username) || 'postgres',
          REGISTRY_DATASOURCE_PASSWORD: decodeURIComponent(db.password) || 'unused',
        },
      })
      const deadline = Date.now() + 90_000
      for (;;) {
        if (!alive()) throw new Error(`schema registry exited at start-up; see ${logFile}`)
        const ok = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) })
          .then((res) => res.ok)
          .catch(() => false)
        if (ok) return
        if (Date.now() > deadline) throw new Error(`schema registry did not answer on ${url} within 90 s`)
        await new Promise((res) => setTimeout(res, 200))
      }
    },
    async kill() {
      if (alive()) {
        child!.kill('SIGKILL')
        await exited()
      }
    },
    async stop() {
      if (alive()) {
        child!.kill('SIGTERM')
        const t = setTimeout(() => child?.kill('SIGKILL'), 15_000)
        await exited()
        clearTimeout(t)
      }
    },
  }
  await r.start()
  return r
}
