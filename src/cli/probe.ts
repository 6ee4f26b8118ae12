// A TCP probe that tells a refused port (nothing listens: answered at once) from a silent one (a
// firewall or a frozen host: no answer), so `doctor` can say which.
import { connect } from 'node:net'

export type ProbeResult =
  | { state: 'open' }
  | { state: 'refused' }
  | { state: 'silent'; afterMs: number }
  | { state: 'error'; message: string }

export function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (r: ProbeResult): void => {
      socket.destroy()
      resolve(r)
    }
    socket.setTimeout(timeoutMs, () => done({ state: 'silent', afterMs: timeoutMs }))
    socket.once('connect', () => done({ state: 'open' }))
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(
        err.code === 'ECONNREFUSED'
          ? { state: 'refused' }
          : { state: 'error', message: err.code ?? err.message },
      ),
    )
  })
}

export function describeProbe(what: string, address: string, r: ProbeResult): string {
  if (r.state === 'refused')
    return `${what} at ${address} refused the connection (nothing listens on that port)`
  if (r.state === 'silent')
    return `${what} at ${address}: no answer within ${r.afterMs / 1000} s (host down or a firewall drops it)`
  if (r.state === 'error') return `${what} at ${address}: ${r.message}`
  return `${what} at ${address} accepts connections`
}
