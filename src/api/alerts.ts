// Alert rules over HTTP: POST /api/v1/alerts creates one, GET lists them, DELETE /api/v1/alerts/:id
// removes one (its firings and pending deliveries with it); GET /api/v1/alerts/firings lists what
// fired, newest first. A bad field gets 400 {"error":"bad_request","param":<field>,…}.
import type { FastifyInstance } from 'fastify'
import {
  ALERT_INTERVALS,
  ALERT_KINDS,
  type AlertInterval,
  type AlertKind,
  type AlertRule,
  type AlertSpec,
} from '../domain/alerts.ts'
import { BadRequestError } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { createRule, deleteRule, listFirings, listRules } from '../store/alerts.ts'
import { NO_PARAMS, errorResponses, symbolParam } from './openapi.ts'
import { parseSymbol } from './params.ts'

/** Rules per database: each is evaluated on every batch of its symbols. */
export const MAX_RULES = 1000

const FIELDS: Record<AlertKind, string[]> = {
  price_cross: ['level'],
  percent_move: ['percent', 'window'],
  volume_spike: ['multiple', 'period', 'interval'],
  indicator_cross: ['indicator', 'period', 'interval', 'threshold'],
}
const COMMON = ['kind', 'symbol', 'symbols', 'direction', 'name', 'webhook']
const DECIMAL = /^\d{1,15}(\.\d{1,10})?$/

function decimalField(body: Record<string, unknown>, field: string, positive = true): string {
  const v = body[field]
  const text = typeof v === 'number' && Number.isFinite(v) ? String(v) : v
  if (typeof text !== 'string' || !DECIMAL.test(text))
    throw new BadRequestError(field, `${field} must be a plain decimal number (e.g. "189.5")`)
  if (positive && !/[1-9]/.test(text)) throw new BadRequestError(field, `${field} must be greater than 0`)
  return text
}

function intField(body: Record<string, unknown>, field: string, min: number, max: number): number {
  const v = body[field]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw new BadRequestError(field, `${field} must be a whole number from ${min} to ${max}`)
  return v
}

function intervalField(body: Record<string, unknown>): AlertInterval {
  const v = body.interval
  if (typeof v !== 'string' || !(ALERT_INTERVALS as readonly string[]).includes(v))
    throw new BadRequestError('interval', `interval must be one of ${ALERT_INTERVALS.join(', ')}`)
  return v as AlertInterval
}

function spec(kind: AlertKind, body: Record<string, unknown>): AlertSpec {
  switch (kind) {
    case 'price_cross':
      return { kind, params: { level: decimalField(body, 'level') } }
    case 'percent_move':
      return {
        kind,
        params: {
          percent: decimalField(body, 'percent'),
          windowSeconds: intField(body, 'window', 1, 86_400),
        },
      }
    case 'volume_spike':
      return {
        kind,
        params: {
          multiple: decimalField(body, 'multiple'),
          period: intField(body, 'period', 1, 100),
          interval: intervalField(body),
        },
      }
    case 'indicator_cross': {
      if (body.indicator !== 'rsi') throw new BadRequestError('indicator', 'indicator must be rsi')
      const threshold = decimalField(body, 'threshold', false)
      if (Number(threshold) > 100) throw new BadRequestError('threshold', 'threshold must be from 0 to 100')
      return {
        kind,
        params: {
          indicator: 'rsi',
          period: intField(body, 'period', 2, 100),
          interval: intervalField(body),
          threshold,
        },
      }
    }
  }
}

function symbolsOf(body: Record<string, unknown>): string[] {
  if (body.symbol !== undefined && body.symbols !== undefined)
    throw new BadRequestError('symbols', 'give symbol or symbols, not both')
  if (typeof body.symbol === 'string') return [parseSymbol('symbol', body.symbol)]
  if (body.symbol !== undefined) throw new BadRequestError('symbol', 'symbol must be a string')
  const list = body.symbols
  if (!Array.isArray(list) || list.length === 0 || list.length > 100)
    throw new BadRequestError('symbols', 'symbols must be a list of 1 to 100 symbols (or give symbol)')
  return [...new Set(list.map((s) => parseSymbol('symbols', typeof s === 'string' ? s : '')))]
}

function webhookOf(v: unknown): string | null {
  if (v === undefined || v === null) return null
  let url: URL | undefined
  try {
    url = typeof v === 'string' && v.length <= 2000 ? new URL(v) : undefined
  } catch {
    url = undefined
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new BadRequestError('webhook', 'webhook must be an http:// or https:// URL')
  return url.toString()
}

/** The rule a POST body describes, or a BadRequestError naming the first bad field. */
export function parseRule(body: unknown): Omit<AlertRule, 'id'> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequestError('body', 'the body must be a JSON object describing the rule')
  const b = body as Record<string, unknown>
  const kind = b.kind as AlertKind
  if (typeof kind !== 'string' || !(ALERT_KINDS as readonly string[]).includes(kind))
    throw new BadRequestError('kind', `kind must be one of ${ALERT_KINDS.join(', ')}`)
  const allowed = new Set([...COMMON, ...FIELDS[kind]])
  const unknown = Object.keys(b).find((k) => !allowed.has(k))
  if (unknown) throw new BadRequestError(unknown, `${unknown} is not a field of a ${kind} rule`)
  const symbols = symbolsOf(b)
  const direction = b.direction ?? 'up'
  if (direction !== 'up' && direction !== 'down')
    throw new BadRequestError('direction', 'direction must be up or down')
  if (kind === 'volume_spike' && direction !== 'up')
    throw new BadRequestError('direction', 'a volume_spike rule fires upwards only (direction up)')
  if (b.name !== undefined && (typeof b.name !== 'string' || b.name.length > 200))
    throw new BadRequestError('name', 'name must be a string of at most 200 characters')
  return {
    ...spec(kind, b),
    name: b.name ?? null,
    symbols,
    direction,
    webhookUrl: webhookOf(b.webhook),
  }
}

const notFound = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const

const ruleSchema = { type: 'object', additionalProperties: true, description: 'an alert rule as stored' }

export function registerAlerts(app: FastifyInstance, db: Db): void {
  app.get(
    '/api/v1/alerts',
    {
      schema: {
        description: 'the alert rules, oldest first',
        querystring: NO_PARAMS,
        response: {
          200: { type: 'object', properties: { rules: { type: 'array', items: ruleSchema } } },
          ...errorResponses,
        },
      },
    },
    async () => ({ rules: await listRules(db) }),
  )
  app.post(
    '/api/v1/alerts',
    {
      schema: {
        description: 'creates an alert rule (docs/analytics.md, "Alerts")',
        response: { 201: ruleSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const rule = parseRule(req.body)
      const [row] = await db.query<{ n: string }>('select count(*)::text as n from alert_rules')
      if (Number(row!.n) >= MAX_RULES)
        throw new BadRequestError('kind', `at most ${MAX_RULES} alert rules; delete one first`)
      return reply.code(201).send(await createRule(db, rule))
    },
  )
  app.delete<{ Params: { id: string } }>(
    '/api/v1/alerts/:id',
    {
      schema: {
        description: 'deletes an alert rule, its firings and pending deliveries',
        response: { 204: { type: 'null' }, 404: notFound, ...errorResponses },
      },
    },
    async (req, reply) => {
      if (!/^[1-9]\d{0,17}$/.test(req.params.id)) throw new BadRequestError('id', 'id must be a rule id')
      if (!(await deleteRule(db, req.params.id)))
        return reply.code(404).send({ error: 'not_found', message: `no alert rule ${req.params.id}` })
      return reply.code(204).send()
    },
  )
  app.get<{ Querystring: { rule?: string; symbol?: string; limit?: number } }>(
    '/api/v1/alerts/firings',
    {
      schema: {
        description: 'alert firings, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            rule: { type: 'string', description: 'a rule id' },
            symbol: symbolParam,
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: 5000,
              description: 'at most this many (default 100)',
            },
          },
        },
        response: { ...errorResponses },
      },
    },
    async (req) => {
      const { rule, symbol, limit } = req.query
      if (rule !== undefined && !/^[1-9]\d{0,17}$/.test(rule))
        throw new BadRequestError('rule', 'rule must be a rule id')
      const sym = symbol === undefined ? undefined : parseSymbol('symbol', symbol)
      return { firings: await listFirings(db, { rule, symbol: sym, limit: limit ?? 100 }) }
    },
  )
}
