// A loopback Binance combined-stream server: `/stream?streams=a/b` is answered with the recorded
// frames of those streams, in recorded order, one WebSocket frame each. A bad stream name is refused
// with HTTP 400, as Binance does.
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { FramePlan, startWsServer, type LoopbackServer } from './server.ts'

/** The JSON frames of a recorded feed file (`<recv ns> <frame>` per line, gzipped). */
export function recordedFrames(path: string): string[] {
  const out: string[] = []
  for (const line of gunzipSync(readFileSync(path)).toString('utf8').split('\n'))
    if (line.length > 0) out.push(line.slice(line.indexOf(' ') + 1))
  return out
}

export interface BinanceServer extends LoopbackServer {
  plan: FramePlan
  /** The `streams` parameter of every accepted connection. */
  subscriptions: string[]
}

export async function startBinanceServer(o: {
  frames: string[]
  /** Only frames of these streams are played (what the adapter is expected to ask for). */
  streams: string[]
  /** Extra frames spliced in at the given positions of the played list (garbage, errors). */
  inject?: [number, string][]
  dropAt?: number
  overlap?: number
}): Promise<BinanceServer> {
  const wanted = new Set(o.streams)
  const played = o.frames.filter((f) => {
    const m = /^\{"stream":"([^"]+)"/.exec(f)
    return m !== null && wanted.has(m[1]!)
  })
  for (const [at, frame] of [...(o.inject ?? [])].sort((a, b) => b[0] - a[0])) played.splice(at, 0, frame)
  const plan = new FramePlan(played, { dropAt: o.dropAt, overlap: o.overlap })
  const subscriptions: string[] = []
  const server = await startWsServer({
    refuse(req) {
      const url = new URL(req.url ?? '/', 'http://x')
      const streams = url.searchParams.get('streams') ?? ''
      if (url.pathname !== '/stream' || !streams.split('/').every((s) => wanted.has(s))) return 400
      return undefined
    },
    onClient(c) {
      subscriptions.push(new URL(c.req.url ?? '/', 'http://x').searchParams.get('streams') ?? '')
      void plan.play(c)
    },
  })
  return Object.assign(server, { plan, subscriptions })
}
