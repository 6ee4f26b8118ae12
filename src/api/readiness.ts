// /readyz: every dependency is probed at once and each probe gets a deadline, so a frozen broker or
// database (a stopped process keeps its sockets open and never answers) makes the check fail in
// bounded time and name the dependency, instead of hanging the request.
import { withTimeout } from '../util/timeout.ts'
import { errorMessage } from '../errors.ts'

export const READINESS_TIMEOUT_MS = 2000

export type Probe = () => Promise<void>

export interface Readiness {
  ok: boolean
  /** name → 'ok' or why it failed */
  checks: Record<string, string>
}

/**
 * Returns a function that runs every probe with `timeoutMs` each. A probe still running from an
 * earlier request is joined rather than started again, so a load balancer polling a frozen
 * dependency cannot pile up hung probes.
 */
export function readinessChecker(probes: Record<string, Probe>, timeoutMs: number): () => Promise<Readiness> {
  const running = new Map<string, Promise<void>>()
  const start = (name: string, probe: Probe): Promise<void> => {
    let p = running.get(name)
    if (!p) {
      p = probe().finally(() => running.delete(name))
      p.catch(() => {}) // the waiter below reports it; a late failure must not go unhandled
      running.set(name, p)
    }
    return p
  }
  const check = async (name: string, probe: Probe): Promise<string> => {
    try {
      await withTimeout(start(name, probe), timeoutMs, () => {
        throw new Error(`${name}: no answer within ${timeoutMs} ms`)
      })
      return 'ok'
    } catch (err) {
      return errorMessage(err)
    }
  }
  return async () => {
    const names = Object.keys(probes)
    const results = await Promise.all(names.map((n) => check(n, probes[n]!)))
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]!]))
    return { ok: results.every((r) => r === 'ok'), checks }
  }
}
