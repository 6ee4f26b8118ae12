// A loopback Finnhub WebSocket: the token travels in the URL and a wrong one is refused with
// HTTP 401 at the upgrade; the client subscribes per symbol; trades come as
// {"type":"trade","data":[…]} and heartbeats as {"type":"ping"}.
import { FramePlan, startWsServer, type LoopbackServer } from './server.ts'

export interface FinnhubServer extends LoopbackServer {
  plan: FramePlan
  /** Subscribe / unsubscribe messages per accepted connection. */
  messages: { type: string; symbol: string }[][]
}

/** A trade message as Finnhub sends it (JSON numbers for price and volume). */
export function finnhubTrades(
  trades: { s: string; p: number; t: number; v: number; c?: string[] }[],
): string {
  return JSON.stringify({ data: trades.map((x) => ({ c: ['1', '12'], ...x })), type: 'trade' })
}

export async function startFinnhubServer(o: {
  token: string
  symbols: string[]
  frames: string[]
  dropAt?: number
  silent?: boolean
}): Promise<FinnhubServer> {
  const plan = new FramePlan(o.frames, { dropAt: o.dropAt, silent: o.silent })
  const messages: { type: string; symbol: string }[][] = []
  const server = await startWsServer({
    refuse: (req) =>
      new URL(req.url ?? '/', 'http://x').searchParams.get('token') === o.token ? undefined : 401,
    onClient(c) {
      const mine: { type: string; symbol: string }[] = []
      messages.push(mine)
      c.ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString('utf8')) as { type: string; symbol: string }
        mine.push(m)
        // Data starts once every symbol is subscribed on this connection.
        if (
          m.type === 'subscribe' &&
          o.symbols.every((s) => mine.some((x) => x.type === 'subscribe' && x.symbol === s))
        ) {
          c.ws.send('{"type":"ping"}')
          void plan.play(c)
        }
      })
    },
  })
  return Object.assign(server, { plan, messages })
}
