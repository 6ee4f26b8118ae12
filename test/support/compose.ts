// The container engine and compose for test/deploy/compose-stack.test.ts: finds a running Docker
// daemon or starts one (and stops only what it started), builds the stand-in and project images,
// and runs docker-compose for one project with the repo's compose files plus the test override.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { root } from './kafka.ts'

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command to its end; never throws on a non-zero exit (the caller asserts on `code`). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: root, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0
      resolve({ code, stdout, stderr: err && code === 127 ? `${stderr}${err.message}` : stderr })
    })
  })
}

export async function must(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cmd, args, env)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`)
  return r.stdout
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `probe` until it returns a value other than undefined, or fails naming `what`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`)
    await sleep(1000)
  }
}

export interface Engine {
  /** Why no engine could be had (undefined when one runs). */
  unavailable?: string
  stop(): Promise<void>
}

/** A running Docker daemon: the one already there, or one started here (as root) and stopped by stop(). */
export async function ensureEngine(): Promise<Engine> {
  const none = async (): Promise<void> => {}
  if ((await run('docker', ['info', '--format', '{{.ServerVersion}}'])).code === 0) return { stop: none }
  if ((await run('sh', ['-c', 'command -v dockerd'])).code !== 0)
    return { unavailable: 'dockerd is not installed (Debian package docker.io)', stop: none }
  if (process.getuid?.() !== 0)
    return { unavailable: 'no Docker daemon runs and only root can start one', stop: none }
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-dockerd-'))
  const logFile = join(dir, 'dockerd.log')
  const daemon: ChildProcess = spawn('dockerd', [], {
    stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
  })
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (daemon.exitCode === null) daemon.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitFor('the Docker daemon', 60_000, async () =>
      daemon.exitCode !== null
        ? Promise.reject(new Error(`dockerd exited ${daemon.exitCode} (log: ${logFile})`))
        : (await run('docker', ['info'])).code === 0 || undefined,
    )
    return { stop }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    await stop()
    return { unavailable: `dockerd did not start: ${why}`, stop: none }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

/** One compose project: `docker-compose -p <project> -f compose.yml [-f …] -f <test override>`. */
export class Project {
  readonly env: NodeJS.ProcessEnv
  private readonly dir = mkdtempSync(join(tmpdir(), 'tickflow-compose-'))
  private readonly envFile: string
  readonly name: string
  private readonly files: string[]

  constructor(name: string, files: string[], vars: Record<string, string>) {
    this.name = name
    this.files = files
    // An explicit env file: a developer's own .env in the repo must not change what is tested.
    this.envFile = join(this.dir, 'env')
    writeFileSync(
      this.envFile,
      Object.entries(vars)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    )
    this.env = { ...process.env, COMPOSE_PROJECT_NAME: name, DOCKER_BUILDKIT: '0' }
  }

  args(rest: string[]): string[] {
    return ['--env-file', this.envFile, '-p', this.name, ...this.files.flatMap((f) => ['-f', f]), ...rest]
  }
  compose(...rest: string[]): Promise<Run> {
    return run('docker-compose', this.args(rest), this.env)
  }
  async composeOk(...rest: string[]): Promise<string> {
    return must('docker-compose', this.args(rest), this.env)
  }
  /** The host port docker published for a service's container port. */
  async port(service: string, port: number): Promise<number> {
    const out = (await this.composeOk('port', service, String(port))).trim()
    return Number(out.slice(out.lastIndexOf(':') + 1))
  }
  async containers(service?: string): Promise<string[]> {
    const out = await this.composeOk('ps', '-a', '-q', ...(service ? [service] : []))
    return out.split('\n').filter(Boolean)
  }
  /** Everything of this project the engine still knows: containers, networks, volumes. */
  async leftovers(): Promise<string[]> {
    const label = `label=com.docker.compose.project=${this.name}`
    const found = await Promise.all([
      must('docker', ['ps', '-a', '-q', '--filter', label]),
      must('docker', ['network', 'ls', '-q', '--filter', label]),
      must('docker', ['volume', 'ls', '-q', '--filter', label]),
      must('docker', ['volume', 'ls', '-q', '--filter', `name=^${this.name}_`]),
    ])
    return found.flatMap((s) => s.split('\n').filter(Boolean))
  }
  async down(): Promise<void> {
    await this.compose('down', '-v', '--remove-orphans', '--timeout', '5')
  }
  async destroy(): Promise<void> {
    await this.down()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export interface ContainerState {
  service: string
  status: string
  health?: string
  exitCode: number
  user: string
}

export async function inspect(ids: string[]): Promise<ContainerState[]> {
  if (ids.length === 0) return []
  const fmt =
    '{{index .Config.Labels "com.docker.compose.service"}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.ExitCode}}|{{.Config.User}}'
  const out = await must('docker', ['inspect', '--format', fmt, ...ids])
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [service = '', status = '', health = '', exitCode = '', user = ''] = line.split('|')
      return { service, status, ...(health ? { health } : {}), exitCode: Number(exitCode), user }
    })
}

/**
 * Waits for the background build scripts/test.ts started (test/support/prebuild-images.ts), if any:
 * two builds of the same images at once would only race each other.
 */
async function prebuilt(): Promise<void> {
  const status = process.env.TICKFLOW_TEST_IMAGES_STATUS
  if (status === undefined || existsSync(status)) return
  process.stderr.write('compose: waiting for the images being built in the background\n')
  await waitFor('the background image build', 40 * 60_000, () =>
    Promise.resolve(existsSync(status) || undefined),
  )
}

/** Builds the stand-ins (scripts/stand-ins.sh) and the project's images; returns the app's build log. */
export async function buildImages(): Promise<string> {
  await prebuilt()
  const env = { ...process.env, DOCKER_BUILDKIT: '0' }
  await must('bash', [join(root, 'scripts/stand-ins.sh')], env)
  const app = await must('docker', ['build', '--force-rm', '-t', 'tickflow:local', root], env)
  await must(
    'docker',
    ['build', '--force-rm', '-q', '-t', 'tickflow-kafka:4.3.1', join(root, 'deploy/kafka')],
    env,
  )
  await must(
    'docker',
    [
      'build',
      '--force-rm',
      '-q',
      '-t',
      'tickflow-schema-registry:2.4.2',
      join(root, 'deploy/schema-registry'),
    ],
    env,
  )
  return app
}

/**
 * The engine for a compose test, or undefined when the test was skipped: where no daemon can run,
 * one loud line says so, and under CI=true the test fails instead, so a green CI means the stack ran.
 */
export async function engineOrSkip(t: { skip(msg: string): void }): Promise<Engine | undefined> {
  const engine = await ensureEngine()
  if (!engine.unavailable) return engine
  const line = `COMPOSE STACK NOT RUN: ${engine.unavailable}`
  process.stderr.write(`\n!!!!! ${line} !!!!!\n\n`)
  if (process.env.CI === 'true') throw new Error(`${line} (CI=true requires it)`)
  t.skip(line)
  return undefined
}

interface PromResponse<T> {
  status: string
  data: T
}

export async function prom<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  if (!res.ok) throw new Error(`Prometheus ${path}: HTTP ${res.status}`)
  return ((await res.json()) as PromResponse<T>).data
}

export interface Target {
  labels: { job: string; instance: string }
  health: string
  lastError: string
}

export async function targets(port: number): Promise<Target[]> {
  return (await prom<{ activeTargets: Target[] }>(port, '/api/v1/targets')).activeTargets
}

/** The value of a PromQL expression with a single result, undefined when it has none. */
export async function scalar(port: number, expr: string): Promise<number | undefined> {
  const data = await prom<{ result: { value: [number, string] }[] }>(
    port,
    `/api/v1/query?query=${encodeURIComponent(expr)}`,
  )
  return data.result[0] ? Number(data.result[0].value[1]) : undefined
}

/** Registers clean-ups that run last-first: the database client before the stack, the stack before the engine. */
export function cleanups(t: TestContext): (fn: () => unknown) => void {
  const list: (() => unknown)[] = []
  t.after(async () => {
    for (const fn of list.reverse())
      await Promise.resolve()
        .then(fn)
        .catch((err: unknown) => process.stderr.write(`clean-up failed: ${String(err)}\n`))
  })
  return (fn) => void list.push(fn)
}
