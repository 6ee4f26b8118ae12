// The dashboard's calls to the API. A failed call becomes an Error with the API's own message, which
// the page shows where the data would have been, instead of an unhandled exception.
export interface Bar {
  symbol: string
  interval: string
  bucket: string
  // null when no trade of the bar may update them by its sale conditions (docs/analytics.md)
  open: string | null
  high: string | null
  low: string | null
  close: string | null
  volume: string
  vwap: string | null
  trades: string
  final?: boolean
}

export interface Page<R> {
  data: R[]
  nextCursor: string | null
  prevCursor: string | null
}

/** A refused request: the API's message, and for a 400 the field it names. */
export class ApiError extends Error {
  readonly status: number
  readonly param: string | undefined
  constructor(message: string, status: number, param?: string) {
    super(message)
    this.status = status
    this.param = param
  }
}

async function answer<T>(res: Response, url: string): Promise<T> {
  if (res.status === 204) return undefined as T
  const body = (await res.json().catch(() => ({}))) as T & { message?: string; param?: string }
  if (!res.ok) throw new ApiError(body.message ?? `${url}: HTTP ${res.status}`, res.status, body.param)
  return body
}

export async function getJson<T>(url: string): Promise<T> {
  return answer<T>(await fetch(url), url)
}

/** A POST or DELETE with an optional JSON body. */
export async function sendJson<T>(method: 'POST' | 'DELETE', url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  return answer<T>(res, url)
}

export function barsUrl(symbol: string, interval: string, params: Record<string, string | number>): string {
  const q = new URLSearchParams({ symbol, interval })
  for (const [k, v] of Object.entries(params)) q.set(k, String(v))
  return `/api/v1/bars?${q.toString()}`
}
