// SIGINT/SIGTERM stop every command within 10 s. Commands that run services stop themselves on the
// first signal (Runtime.stopped) and close what they opened; this guard ends the process if that
// takes longer, and at once on a second signal or when no command is listening. The time counts
// only while the event loop runs: opening a fresh embedded store blocks it in WebAssembly for
// seconds, and the command's own clean stop comes right after that.
const LIMIT_MS = 9_500
const STEP_MS = 250

export function guardSignals(): void {
  let received = 0
  const on = (sig: NodeJS.Signals): void => {
    received++
    const code = 128 + (sig === 'SIGINT' ? 2 : 15)
    if (received > 1 || process.listenerCount(sig) <= 1) process.exit(code)
    let steps = 0
    const step = (): void => {
      if (++steps * STEP_MS < LIMIT_MS) return void setTimeout(step, STEP_MS).unref()
      process.stderr.write(
        `tickflow: did not stop within ${LIMIT_MS / 1000} s of ${sig}; exiting [TF_INTERNAL]\n`,
      )
      process.exit(code)
    }
    setTimeout(step, STEP_MS).unref()
  }
  process.on('SIGINT', on)
  process.on('SIGTERM', on)
}
