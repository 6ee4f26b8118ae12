// Runs the CLI with a hard timeout and checks the one-line failure contract.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { startCli, type CliProcess } from '../support/cli.ts'

export const noServices = { KAFKA_BROKERS: '', DATABASE_URL: '' }

/** Waits for the process to exit, killing it (and failing) after ms. */
export async function exitWithin(
  p: CliProcess,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL')
      reject(new Error(`still running after ${ms} ms; output:\n${p.output()}`))
    }, ms)
  })
  try {
    return await Promise.race([p.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export async function runWithin(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  ms: number,
): Promise<{ code: number | null; output: string }> {
  const p = startCli(args, env, cwd)
  const { code } = await exitWithin(p, ms)
  return { code, output: p.output() }
}

/** Exactly one line, no stack frame, no [object Object]. */
export function assertOneLine(output: string, expected: RegExp): void {
  const lines = output.trim().split('\n')
  assert.equal(lines.length, 1, `one line expected, got:\n${output}`)
  assert.match(lines[0]!, expected)
  assert.doesNotMatch(output, /^ {4}at /m)
  assert.doesNotMatch(output, /\[object Object\]/)
}

export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A CSV of n trades of symbol, one every stepMs from 2026-11-24T14:30:00Z; price i+1. */
export function tradeFile(path: string, symbol: string, n: number, stepMs: number): void {
  const start = Date.parse('2026-11-24T14:30:00Z')
  const rows = Array.from(
    { length: n },
    (_, i) => `${symbol},${new Date(start + i * stepMs).toISOString()},${i + 1},1,${symbol}-${i}`,
  )
  writeFileSync(path, `symbol,ts,price,size,id\n${rows.join('\n')}\n`)
}

/** Resolves when the process output matches re (or fails after ms). */
export async function outputMatches(p: CliProcess, re: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!re.test(p.output())) {
    assert.ok(Date.now() < deadline, `no ${re} within ${ms} ms:\n${p.output()}`)
    assert.equal(p.child.exitCode, null, `exited before ${re}:\n${p.output()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The dashboard URL `up`/`serve` print first, once /readyz answers 200 (the store is open). */
export async function readyUrl(p: CliProcess, ms: number): Promise<string> {
  await outputMatches(p, /dashboard http/, ms)
  const url = /dashboard (http\S+)/.exec(p.output())![1]!
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await fetch(`${url}readyz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return url
    assert.ok(Date.now() < deadline, `not ready within ${ms} ms:\n${p.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
