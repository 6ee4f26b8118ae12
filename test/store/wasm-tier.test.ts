// The embedded store's memory settings. TICKFLOW_EMBEDDED_OPTIMIZE decides whether V8 may optimise
// PGlite's WebAssembly in the process that holds the store (src/store/wasm-tier.ts), checked with
// V8's own trace of what it compiled: the PGlite module is the one with thousands of functions, and
// with optimisation off none of them is compiled by TurboFan, while a bulk replay (auto) or `on`
// optimises its hot ones. The store runs with shared_buffers 32 MB (EMBEDDED_SETTINGS), in its
// thread and in tickflow sql; PGlite as it ships (the benchmark's baseline) keeps 128 MB.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPglite, openPgliteHere } from '../../src/store/db.ts'
import { runCli } from '../support/cli.ts'
import { root } from '../support/kafka.ts'
import { dataFile } from '../support/data.ts'

interface Compiled {
  /** Functions of the module with the most compiled functions, per tier. */
  liftoff: number
  turbofan: number
  output: string
  code: number | null
}

/**
 * Runs the CLI with V8's WebAssembly compilation trace and counts the largest module's compiles.
 * The logs go to a file, so standard output holds only the trace (and the command's last line).
 */
async function traced(args: string[], env: Record<string, string>, cwd: string): Promise<Compiled> {
  const logFile = join(cwd, `tickflow-${Date.now()}.log`)
  const child = spawn(
    process.execPath,
    ['--trace-wasm-compilation-times', join(root, 'bin/tickflow.js'), ...args],
    {
      cwd,
      env: {
        ...process.env,
        KAFKA_BROKERS: '',
        DATABASE_URL: '',
        HTTP_PORT: '0',
        LOG_LEVEL: 'info',
        LOG_FILE: logFile,
        TICKFLOW_DATA_DIR: join(cwd, 'data'),
        TICKFLOW_EMBEDDED_OPTIMIZE: 'auto',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let trace = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (trace += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  const modules = new Map<string, { liftoff: number; turbofan: number }>()
  for (const m of trace.matchAll(/^Compiled function (0x[0-9a-f]+)#\d+ using (Liftoff|TurboFan)/gm)) {
    const counts = modules.get(m[1]!) ?? { liftoff: 0, turbofan: 0 }
    if (m[2] === 'Liftoff') counts.liftoff++
    else counts.turbofan++
    modules.set(m[1]!, counts)
  }
  const pglite = [...modules.values()].sort((a, b) => b.liftoff - a.liftoff)[0]
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
  return { liftoff: pglite?.liftoff ?? 0, turbofan: pglite?.turbofan ?? 0, output: `${stderr}${log}`, code }
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-wasm-tier-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function storedTicks(dir: string): Promise<number> {
  const db = await openPglite(join(dir, 'data/pglite'))
  try {
    const [row] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
    return Number(row!.n)
  } finally {
    await db.close()
  }
}

const feed = dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz')

test('tickflow up keeps PGlite at the baseline tier by default: no function optimised', async (t) => {
  const dir = tempDir(t)
  const run = await traced(['up', '--duration', '2s'], {}, dir)
  assert.equal(run.code, 0, run.output)
  assert.match(run.output, /embedded database: WebAssembly optimisation off/)
  assert.ok(run.liftoff > 1000, `PGlite's module compiled ${run.liftoff} functions`)
  assert.equal(run.turbofan, 0, 'no PGlite function was optimised')
  assert.ok((await storedTicks(dir)) > 0)
})

test('a replay or the simulator at full speed lets V8 optimise PGlite (auto); on and off override', async (t) => {
  const fast = tempDir(t)
  const replay = await traced(['replay', feed.path, '--speed', '0'], {}, fast)
  assert.equal(replay.code, 0, replay.output)
  assert.match(replay.output, /embedded database: WebAssembly optimisation on/)
  assert.ok(replay.turbofan > 0, 'the replay optimised PGlite functions')

  const lean = tempDir(t)
  const off = await traced(['replay', feed.path, '--speed', '0'], { TICKFLOW_EMBEDDED_OPTIMIZE: 'off' }, lean)
  assert.equal(off.code, 0, off.output)
  assert.ok(off.liftoff > 1000)
  assert.equal(off.turbofan, 0)
  // The same trades stored either way.
  const stored = await storedTicks(fast)
  assert.equal(await storedTicks(lean), stored)
  if (feed.full) assert.equal(stored, 21_313)

  const on = await traced(['up', '--duration', '2s', '--embedded-optimize', 'on'], {}, tempDir(t))
  assert.equal(on.code, 0, on.output)
  assert.ok(on.turbofan > 0, 'on optimises PGlite in tickflow up')

  // The simulator as fast as it goes is a bulk load too.
  const flat = await traced(['up', '--rate', '0', '--count', '20000'], {}, tempDir(t))
  assert.equal(flat.code, 0, flat.output)
  assert.match(flat.output, /embedded database: WebAssembly optimisation on/)
})

test('a bad TICKFLOW_EMBEDDED_OPTIMIZE stops the command with one line naming it', async (t) => {
  const run = await traced(['up', '--duration', '2s'], { TICKFLOW_EMBEDDED_OPTIMIZE: 'fast' }, tempDir(t))
  assert.equal(run.code, 2)
  const lines = run.output.split('\n').filter((l) => l.trim() !== '')
  assert.equal(lines.length, 1, run.output)
  assert.match(lines[0]!, /TICKFLOW_EMBEDDED_OPTIMIZE/)
})

test('the embedded store runs with shared_buffers 32 MB, tickflow sql too; PGlite as shipped 128 MB', async (t) => {
  const dir = tempDir(t)
  const store = await openPglite(join(dir, 'data/pglite'))
  const [inStore] = await store.query<{ shared_buffers: string }>('show shared_buffers')
  await store.close()
  assert.equal(inStore!.shared_buffers, '32MB')
  const sql = await runCli(['sql', '-c', 'show shared_buffers', '--csv'], {
    TICKFLOW_DATA_DIR: join(dir, 'data'),
  })
  assert.equal(sql.code, 0, sql.output)
  assert.equal(sql.output.trim().split('\n').at(-1), '32MB')
  const shipped = await openPgliteHere(join(dir, 'data/pglite'))
  const [asShipped] = await shipped.query<{ shared_buffers: string }>('show shared_buffers')
  await shipped.close()
  assert.equal(asShipped!.shared_buffers, '128MB')
})
