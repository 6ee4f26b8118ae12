// buildApp(deps) builds the HTTP app without listening (tests use inject or port 0); the CLI
// listens. Every tickflow process serves /healthz, /readyz and /metrics from it; with a database it
// also serves the REST API, the live WebSocket, /docs (OpenAPI) and the dashboard.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import cors from '@fastify/cors'
import { exposition, type Metrics } from '../metrics/registry.ts'
import type { Db } from '../store/db.ts'
import { BadRequestError } from '../errors.ts'
import { registerRoutes } from './routes.ts'
import type { LiveHub } from './live.ts'
import { registerDashboard } from './dashboard.ts'
import { READINESS_TIMEOUT_MS, readinessChecker } from './readiness.ts'
import { healthSchema, metricsSchema, readySchema } from './openapi.ts'

export interface AppDeps {
  metrics: Metrics
  /** Checks for /readyz: name → probe that throws when the dependency is unreachable. */
  readiness?: Record<string, () => Promise<void>>
  /** How long each readiness probe may take before it counts as failed (default 2 s). */
  readinessTimeoutMs?: number
  db?: Db
  hub?: LiveHub
  /** Origins allowed to call the API from a browser (HTTP_CORS_ORIGINS); none by default. */
  corsOrigins?: string[]
}

/** Query-string validation errors name the parameter: {"error":"bad_request","param":"limit",…}. */
function badRequest(err: FastifyError): { param: string; message: string } | undefined {
  const v = err.validation?.[0]
  if (!v) return undefined
  const params: Record<string, unknown> = v.params
  const param =
    (typeof params.missingProperty === 'string' && params.missingProperty) ||
    (typeof params.additionalProperty === 'string' && params.additionalProperty) ||
    v.instancePath.replace(/^\//, '') ||
    'query'
  // A pattern's message would show the regular expression: say it in words instead.
  const what = params.additionalProperty
    ? 'is not a parameter of this endpoint'
    : params.missingProperty
      ? 'is required'
      : v.keyword === 'pattern'
        ? 'is not in the expected format'
        : (v.message ?? 'is invalid')
  return { param, message: `${param} ${what}` }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // Unknown query parameters are refused (not silently dropped), so a typo gets a 400 naming it.
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { removeAdditional: false } },
  })
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const bad = badRequest(err)
    if (bad) return reply.code(400).send({ error: 'bad_request', ...bad })
    if (err instanceof BadRequestError)
      return reply.code(400).send({ error: 'bad_request', param: err.param, message: err.message })
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500
    return reply.code(status).send({
      error: status === 500 ? 'internal' : 'request_failed',
      message: status === 500 ? 'internal error' : err.message,
    })
  })
  // An unknown path gets the API's error shape too, and where the endpoints are listed.
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      error: 'not_found',
      message: `no endpoint ${req.method} ${req.url.split('?')[0]}: the endpoints are listed at /docs`,
    }),
  )
  // Registered first so the OpenAPI document lists every route, health and metrics included.
  await app.register(swagger, {
    openapi: { info: { title: 'tickflow API', version: '1' } },
    // @fastify/websocket hides WebSocket routes from the document; the stream is part of the API.
    transform: ({ schema, url, route }) => ({
      schema: route.websocket ? { ...schema, hide: false } : schema,
      url,
    }),
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  if (deps.corsOrigins && deps.corsOrigins.length > 0)
    await app.register(cors, {
      origin: deps.corsOrigins.includes('*') ? '*' : deps.corsOrigins,
      methods: ['GET'],
    })
  app.get('/healthz', { schema: healthSchema }, () => ({ status: 'ok' }))
  const ready = readinessChecker(deps.readiness ?? {}, deps.readinessTimeoutMs ?? READINESS_TIMEOUT_MS)
  app.get('/readyz', { schema: readySchema }, async (_req, reply) => {
    const { ok, checks } = await ready()
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks })
  })
  app.get('/metrics', { schema: metricsSchema }, async (_req, reply) => {
    const body = await exposition(deps.metrics)
    return reply.header('content-type', deps.metrics.registry.contentType).send(body)
  })
  if (deps.db) {
    await app.register(websocket, { options: { maxPayload: 4096 } })
    const db = deps.db
    await app.register((scope) => {
      registerRoutes(scope, { db, hub: deps.hub })
      return Promise.resolve()
    })
    const dist = join(import.meta.dirname, '../dashboard/dist')
    if (existsSync(dist)) await registerDashboard(app, dist)
  }
  return app
}
