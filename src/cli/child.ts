// A command that hands its work to a child process (the benchmark, the Spark job): SIGINT and
// SIGTERM are passed on to the child, and the command exits with the child's code.
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'

/** Waits for the child to exit while forwarding signals through `forward`; its exit code. */
export async function exitOfChild(
  child: ChildProcess,
  forward: (sig: NodeJS.Signals) => void,
): Promise<number> {
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
    return code ?? (signal === 'SIGINT' ? 130 : 143)
  } finally {
    process.off('SIGINT', forward)
    process.off('SIGTERM', forward)
  }
}
