// The one way tickflow waits with a deadline: a race between the work and a timer that is always
// cleared, so a settled promise leaves no timer holding the process open.

/**
 * p's outcome, or what `onTimeout` returns (or throws) when p has not settled within `ms`. p itself
 * is not cancelled: a caller that gives up on it must not care how it ends.
 */
export async function withTimeout<T, U>(p: Promise<T>, ms: number, onTimeout: () => U): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout())
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    }, ms)
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
