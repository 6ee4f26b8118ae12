// A loopback Alpha Vantage REST endpoint: GET /query?function=GLOBAL_QUOTE&symbol=…&apikey=…
// answered from a script, one reply per request in order (the last one repeats), and every request
// recorded with its arrival time.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Reply {
  status?: number
  body: string
}

export interface AlphaVantageServer {
  url: string
  requests: { fn: string | null; symbol: string | null; apikey: string | null; at: number }[]
  close(): Promise<void>
}

/** A GLOBAL_QUOTE body as Alpha Vantage writes it: every value a string. */
export function globalQuote(symbol: string, price: string, volume: string, day: string): Reply {
  return {
    body: JSON.stringify({
      'Global Quote': {
        '01. symbol': symbol,
        '02. open': price,
        '03. high': price,
        '04. low': price,
        '05. price': price,
        '06. volume': volume,
        '07. latest trading day': day,
        '08. previous close': price,
        '09. change': '0.0000',
        '10. change percent': '0.0000%',
      },
    }),
  }
}

export const throttled: Reply = {
  body: JSON.stringify({
    Information:
      'We have detected your API key as XXXX and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans.',
  }),
}
export const throttledNote: Reply = {
  body: JSON.stringify({
    Note: 'Our standard API call frequency is 5 calls per minute and 500 calls per day.',
  }),
}

export async function startAlphaVantageServer(replies: Reply[]): Promise<AlphaVantageServer> {
  const requests: AlphaVantageServer['requests'] = []
  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const q = url.searchParams
    requests.push({ fn: q.get('function'), symbol: q.get('symbol'), apikey: q.get('apikey'), at: Date.now() })
    const reply = replies[Math.min(requests.length - 1, replies.length - 1)]!
    res.writeHead(url.pathname === '/query' ? (reply.status ?? 200) : 404, {
      'content-type': 'application/json',
    })
    res.end(reply.body)
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/query`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      }),
  }
}
