// Output for people: the dashboard URL first, the summary last, readable or JSON logs, a progress
// bar for file replays, --version, per-command help, "did you mean", shell completion.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { root } from '../support/kafka.ts'
import { assertOneLine, noServices, runWithin, tempDir, tradeFile } from './support.ts'

const bin = join(root, 'bin/tickflow.js')

/** Runs the CLI with standard output and error into one file, so lines keep their order. */
async function runMerged(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number | null; lines: string[] }> {
  const path = join(cwd, 'out.txt')
  const fd = openSync(path, 'w')
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env: { ...process.env, HTTP_PORT: '0', ...noServices, ...env },
    stdio: ['ignore', fd, fd],
  })
  closeSync(fd)
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearTimeout(timer)
  return {
    code,
    lines: readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== ''),
  }
}

test('up prints the dashboard URL first and the summary last, at --log-level warn and with JSON logs', async (t) => {
  const dir = tempDir(t, 'tickflow-out-')
  for (const level of ['warn', 'info']) {
    const run = await runMerged(
      ['up', '--count', '200', '--rate', '0', '--data-dir', `d-${level}`],
      { LOG_LEVEL: level },
      dir,
    )
    assert.equal(run.code, 0, run.lines.join('\n'))
    assert.match(run.lines[0]!, /^tickflow: dashboard http:\/\/127\.0\.0\.1:\d+\/$/)
    assert.match(
      run.lines.at(-1)!,
      /^tickflow: 200 trades produced; the store holds 200 ticks and 0 dead letters \(pglite\)$/,
    )
    const logs = run.lines.slice(1, -1)
    if (level === 'info') assert.ok(logs.length > 2)
    for (const l of logs) assert.equal(typeof (JSON.parse(l) as { msg: string }).msg, 'string', l) // not a TTY: JSON
  }
})

test('LOG_FORMAT=pretty gives readable lines', async (t) => {
  const dir = tempDir(t, 'tickflow-pretty-')
  const run = await runMerged(
    ['up', '--count', '50', '--rate', '0'],
    { LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' },
    dir,
  )
  assert.equal(run.code, 0, run.lines.join('\n'))
  const started = run.lines.find((l) => l.includes('pipeline started'))
  assert.ok(started, run.lines.join('\n'))
  assert.match(started, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(tickflow\): pipeline started$/)
})

test('a file replay shows a progress bar with percentage, rate and time left; the summary is last', async (t) => {
  const dir = tempDir(t, 'tickflow-progress-')
  tradeFile(join(dir, 'a.csv'), 'AAA', 400, 5) // 2 s of event time, replayed in real time
  const run = await runMerged(
    ['replay', 'a.csv', '--speed', '1'],
    { TICKFLOW_PROGRESS: '1', LOG_LEVEL: 'warn' },
    dir,
  )
  assert.equal(run.code, 0, run.lines.join('\n'))
  const text = run.lines.join('\n')
  assert.match(text, /replay a\.csv \[[#-]{20}\] +\d+% \d[\d,]* trades\/s, (\d\d:\d\d|--:--) left/)
  // What a terminal shows last: the text after the last carriage return, the bar cleared.
  const visible = run.lines.at(-1)!.split('\r').at(-1)!.replace('\x1b[K', '')
  assert.match(visible, /^tickflow: 400 trades produced; the store holds 400 ticks/)
})

test('--version, COMMAND --help, help COMMAND', async (t) => {
  const dir = tempDir(t, 'tickflow-help-')
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  const v = await runWithin(['--version'], {}, dir, 20_000)
  assert.deepEqual([v.code, v.output], [0, `tickflow ${pkg.version}\n`])
  const up = await runWithin(['up', '--help'], {}, dir, 20_000)
  assert.equal(up.code, 0)
  assert.match(up.output, /^usage: tickflow up \[options\]\n/)
  assert.doesNotMatch(up.output, /^commands:/m)
  const replay = await runWithin(['help', 'replay'], {}, dir, 20_000)
  assert.match(replay.output, /^usage: tickflow replay FILE \[options\]\n/)
  assert.match(replay.output, /--columns MAP/)
})

test('did you mean: a mistyped command or flag is one line with the closest name', async (t) => {
  const dir = tempDir(t, 'tickflow-typo-')
  const cmd = await runWithin(['replya', 'x.csv'], {}, dir, 20_000)
  assert.equal(cmd.code, 2)
  assertOneLine(
    cmd.output,
    /^tickflow: unknown command "replya" \(did you mean replay\?\); commands: .* \[TF_USAGE\]$/,
  )
  const flag = await runWithin(['up', '--rat', '5'], {}, dir, 20_000)
  assert.equal(flag.code, 2)
  assertOneLine(flag.output, /^tickflow: unknown option '--rat' \(did you mean --rate\?\) \[TF_USAGE\]$/)
  const own = await runWithin(['replay', 'x.csv', '--colums', 'a=b'], {}, dir, 20_000)
  assertOneLine(own.output, /^tickflow: unknown option '--colums' \(did you mean --columns\?\) \[TF_USAGE\]$/)
})

test('a negative number after a flag is its value, refused by the flag’s own check; a value with a dash says how', async (t) => {
  const dir = tempDir(t, 'tickflow-negative-')
  // Seen before: "Option '--rate' argument is ambiguous." for each of these.
  const cases: [string[], RegExp][] = [
    [
      ['up', '--rate', '-5'],
      /^tickflow: invalid --rate: "-5" Too small: expected number to be >=0 \[TF_CONFIG\]$/,
    ],
    [
      ['replay', 'x.csv', '--speed', '-1'],
      /^tickflow: invalid --speed: "-1" Too small: expected number to be >=0 \[TF_CONFIG\]$/,
    ],
    [
      ['up', '--partitions', '-3'],
      /^tickflow: invalid --partitions: "-3" Too small: expected number to be >0 \[TF_CONFIG\]$/,
    ],
    [
      ['replay', 'x.csv', '--symbol', '-X'],
      /^tickflow: the value of --symbol starts with a dash \("-X"\): write --symbol=-X \[TF_USAGE\]$/,
    ],
  ]
  for (const [args, expected] of cases) {
    const run = await runWithin(args, { KAFKA_BROKERS: '', DATABASE_URL: '' }, dir, 20_000)
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.output}`)
    assertOneLine(run.output, expected)
  }
})

test('tickflow completion bash completes commands and flags', async (t) => {
  const dir = tempDir(t, 'tickflow-compl-')
  const script = await runWithin(['completion', 'bash'], {}, dir, 20_000)
  assert.equal(script.code, 0)
  writeFileSync(join(dir, 'tickflow.bash'), script.output)
  const complete = (words: string): string => {
    const r = spawnSync(
      'bash',
      [
        '-c',
        'source ./tickflow.bash; COMP_WORDS=($WORDS); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _tickflow; echo "${COMPREPLY[*]}"',
      ],
      { cwd: dir, env: { ...process.env, WORDS: words }, encoding: 'utf8' },
    )
    return r.stdout.trim()
  }
  assert.equal(complete('tickflow rep'), 'replay')
  assert.equal(complete('tickflow replay --col'), '--columns')
  assert.equal(complete('tickflow up --data-d'), '--data-dir')
  assert.equal(complete('tickflow up --data'), '--database-url --data-dir')
  const zsh = await runWithin(['completion', 'zsh'], {}, dir, 20_000)
  assert.match(zsh.output, /^#compdef tickflow\n/)
  const bad = await runWithin(['completion', 'fish'], {}, dir, 20_000)
  assert.equal(bad.code, 2)
  assertOneLine(bad.output, /completion bash\|zsh .*\[TF_USAGE\]$/)
})

test('a JSON log line is written before the call returns, so a line for people written after it comes after it', async (t) => {
  const dir = tempDir(t, 'tickflow-order-')
  const path = join(dir, 'out.txt')
  const fd = openSync(path, 'w')
  // Standard output and error share one file: 200 log lines, each followed by a line on stderr.
  const script = `
    import { createLogger } from ${JSON.stringify(join(root, 'src/cli/logger.ts'))}
    import { writeSync } from 'node:fs'
    const log = createLogger({ logLevel: 'info', logFormat: 'json' }, 'order')
    for (let i = 0; i < 200; i++) { log.info({ i }, 'log'); writeSync(2, 'said ' + i + '\\n') }
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const [code] = (await once(child, 'exit')) as [number | null]
  assert.equal(code, 0, readFileSync(path, 'utf8'))
  const lines = readFileSync(path, 'utf8').trim().split('\n')
  assert.equal(lines.length, 400)
  lines.forEach((l, n) => {
    const i = n >> 1
    if (n % 2 === 0) assert.equal((JSON.parse(l) as { i: number }).i, i, `line ${n}: ${l}`)
    else assert.equal(l, `said ${i}`)
  })
})
