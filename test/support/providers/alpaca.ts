// A loopback Alpaca v2 stock stream (`/v2/iex`, `/v2/sip`): greets with
// [{"T":"success","msg":"connected"}], wants {"action":"auth","key","secret"} (wrong → 402 and
// close), answers a subscribe with [{"T":"subscription",…}] and then plays its frames (arrays of
// t/q/b messages). `errorAfterSubscribe` sends an error code instead on chosen connections and
// closes, as Alpaca does for 405/406/407.
import { FramePlan, startWsServer, type LoopbackServer } from './server.ts'

export interface AlpacaServer extends LoopbackServer {
  plan: FramePlan
  authAttempts: number
  paths: string[]
  subscriptions: unknown[]
}

const errors: Record<number, string> = {
  401: 'not authenticated',
  402: 'auth failed',
  405: 'symbol limit exceeded',
  406: 'connection limit exceeded',
  407: 'slow client',
}

export async function startAlpacaServer(o: {
  key: string
  secret: string
  frames: string[]
  dropAt?: number
  overlap?: number
  errorAfterSubscribe?: (connection: number) => number | undefined
}): Promise<AlpacaServer> {
  const plan = new FramePlan(o.frames, { dropAt: o.dropAt, overlap: o.overlap })
  const server = await startWsServer({
    refuse: (req) => (/^\/v2\/(iex|sip)$/.test(req.url ?? '') ? undefined : 404),
    onClient(c) {
      out.paths.push(c.req.url ?? '')
      let authed = false
      const fail = (code: number): void => {
        c.ws.send(JSON.stringify([{ T: 'error', code, msg: errors[code] ?? 'error' }]))
        c.ws.close()
      }
      c.ws.send('[{"T":"success","msg":"connected"}]')
      c.ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString('utf8')) as { action: string; key?: string; secret?: string }
        if (m.action === 'auth') {
          out.authAttempts++
          if (m.key !== o.key || m.secret !== o.secret) return fail(402)
          authed = true
          c.ws.send('[{"T":"success","msg":"authenticated"}]')
        } else if (m.action === 'subscribe') {
          if (!authed) return fail(401)
          out.subscriptions.push(m)
          const code = o.errorAfterSubscribe?.(c.index)
          if (code !== undefined) return fail(code)
          const {
            trades = [],
            quotes = [],
            bars = [],
          } = m as { trades?: string[]; quotes?: string[]; bars?: string[] }
          c.ws.send(
            JSON.stringify([{ T: 'subscription', trades, quotes, bars, updatedBars: [], dailyBars: [] }]),
          )
          void plan.play(c)
        }
      })
    },
  })
  // The handlers above run only once clients connect, after `out` exists.
  const out: AlpacaServer = Object.assign(server, {
    plan,
    authAttempts: 0,
    paths: [] as string[],
    subscriptions: [] as unknown[],
  })
  return out
}
