// JSON-schema fragments shared by the routes: they validate requests and are the OpenAPI document
// (/docs/json). Parameters whose format needs more than a JSON-schema pattern (times, symbols,
// cursors) are checked in the handlers, so an error message never shows a regular expression.
import { SYMBOL_RULE } from '../domain/symbol.ts'
import { TIME_RULE } from './params.ts'

const nullable = (type: string) => ({ type: [type, 'null'] })

export const error = {
  type: 'object',
  description: 'a bad parameter: `param` names it, `message` says what is wrong',
  properties: {
    error: { type: 'string', enum: ['bad_request'] },
    param: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['error', 'param', 'message'],
} as const

export const errorResponses = { 400: error } as const

/** Endpoints without parameters still refuse unknown ones (a typo gets a 400 naming it). */
export const NO_PARAMS = { type: 'object', additionalProperties: false, properties: {} } as const

export const listParams = {
  from: {
    type: 'string',
    description: `inclusive start: ${TIME_RULE}; an ISO time without an offset is UTC`,
  },
  to: { type: 'string', description: `exclusive end: ${TIME_RULE}` },
  order: {
    type: 'string',
    enum: ['asc', 'desc'],
    description: 'asc (default): oldest first; desc: newest first (with limit: the latest N)',
  },
  limit: {
    type: 'integer',
    minimum: 1,
    description:
      'rows per page: JSON at most 5000 (dead letters 500); with format=csv the total number of rows (default: all)',
  },
  cursor: {
    type: 'string',
    description:
      'nextCursor or prevCursor of a page, unchanged: the page after or before it in the same order',
  },
  format: {
    type: 'string',
    enum: ['json', 'csv'],
    description: 'csv streams every row of the range as CSV (also chosen by Accept: text/csv)',
  },
} as const

export function listQuery(
  extra: Record<string, object>,
  required: string[] = [],
): { type: 'object'; additionalProperties: false; required: string[]; properties: Record<string, object> } {
  return { type: 'object', additionalProperties: false, required, properties: { ...extra, ...listParams } }
}

export const symbolParam = { type: 'string', description: `a symbol, any case: ${SYMBOL_RULE}` } as const

const row = (properties: Record<string, object>) => ({
  type: 'object',
  additionalProperties: true,
  properties,
})

export const tradeRow = row({
  symbol: { type: 'string' },
  ts: { type: 'string', description: 'event time, ISO-8601 UTC, microseconds' },
  price: { type: 'string', description: 'exact decimal' },
  size: { type: 'string', description: 'exact decimal' },
  source: { type: 'string' },
  tradeId: nullable('string'),
  partition: { type: 'integer' },
  seq: { type: 'string', description: 'order of arrival in the partition' },
})

export const barRow = row({
  symbol: { type: 'string' },
  interval: { type: 'string' },
  bucket: { type: 'string', description: 'bucket start, ISO-8601 UTC' },
  // null when no trade of the bar may set them by its sale conditions (docs/analytics.md)
  open: nullable('string'),
  high: nullable('string'),
  low: nullable('string'),
  close: nullable('string'),
  volume: { type: 'string' },
  vwap: nullable('string'),
  trades: { type: 'string' },
})

export const deadLetterRow = row({
  id: { type: 'string' },
  receivedAt: { type: 'string' },
  reason: { type: 'string' },
  detail: nullable('string'),
  topic: { type: 'string' },
  partition: { type: 'integer' },
  offset: { type: 'string' },
  key: nullable('string'),
  payload: { type: 'string', description: 'the original message: text when UTF-8, else base64' },
  encoding: { type: 'string', enum: ['utf8', 'base64'] },
})

/** A page of rows with keyset cursors, as JSON, or the whole range as CSV. */
export function page(what: string, item: object = { type: 'object', additionalProperties: true }) {
  return {
    description: `a page of ${what} (JSON), or all of them (CSV)`,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          properties: {
            data: { type: 'array', items: item },
            nextCursor: {
              ...nullable('string'),
              description: 'the next page in the same order; null on the last',
            },
            prevCursor: { ...nullable('string'), description: 'the page before; null on the first' },
          },
        },
      },
      'text/csv': { schema: { type: 'string', description: 'a header line, then one line per row' } },
    },
  }
}

export const healthSchema = {
  description: 'Liveness: 200 while the process runs',
  response: {
    200: { type: 'object', additionalProperties: true, properties: { status: { type: 'string' } } },
  },
} as const

export const readySchema = {
  description: 'Readiness: 200 when every dependency answers, else 503 with the failing check named',
  response: {
    200: {
      type: 'object',
      additionalProperties: true,
      properties: { status: { type: 'string' }, checks: { type: 'object', additionalProperties: true } },
    },
    503: {
      type: 'object',
      additionalProperties: true,
      properties: { status: { type: 'string' }, checks: { type: 'object', additionalProperties: true } },
    },
  },
} as const

export const metricsSchema = {
  description: 'Prometheus metrics (text exposition format, see docs/metrics.md)',
  response: {
    200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
  },
} as const
