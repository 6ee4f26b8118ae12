// A loopback Polygon.io (Massive) stocks WebSocket: greets with a "connected" status, wants
// {"action":"auth","params":KEY} (wrong → "auth_failed" and close), confirms a subscribe with a
// "success" status and then plays its frames (arrays of T/Q/AM events).
import { FramePlan, startWsServer, type LoopbackServer } from './server.ts'

export interface PolygonServer extends LoopbackServer {
  plan: FramePlan
  authAttempts: number
  subscriptions: string[]
}

const status = (s: string, message: string): string => JSON.stringify([{ ev: 'status', status: s, message }])

export async function startPolygonServer(o: {
  key: string
  frames: string[]
  dropAt?: number
  overlap?: number
}): Promise<PolygonServer> {
  const plan = new FramePlan(o.frames, { dropAt: o.dropAt, overlap: o.overlap })
  const server = await startWsServer({
    refuse: (req) => (req.url === '/stocks' ? undefined : 404),
    onClient(c) {
      let authed = false
      c.ws.send(status('connected', 'Connected Successfully'))
      c.ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString('utf8')) as { action: string; params: string }
        if (m.action === 'auth') {
          out.authAttempts++
          if (m.params !== o.key) {
            c.ws.send(status('auth_failed', 'authentication failed'))
            return c.ws.close()
          }
          authed = true
          c.ws.send(status('auth_success', 'authenticated'))
        } else if (m.action === 'subscribe' && authed) {
          out.subscriptions.push(m.params)
          c.ws.send(status('success', `subscribed to: ${m.params}`))
          void plan.play(c)
        }
      })
    },
  })
  // The handlers above run only once clients connect, after `out` exists.
  const out: PolygonServer = Object.assign(server, { plan, authAttempts: 0, subscriptions: [] as string[] })
  return out
}
