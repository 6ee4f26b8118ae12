// buildApp(deps) builds the HTTP app without listening (tests use inject or port 0); the CLI
// listens. Every tickflow process serves /healthz, /readyz and /metrics from it; with a database it
// also serves the REST API, the live WebSocket, /docs (OpenAPI) and the dashboard.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { Metrics } from '../metrics/registry.ts'
import type { Db } from '../store/db.ts'
import { BadRequestError } from '../errors.ts'
import { registerRoutes } from './routes.ts'
import type { LiveHub } from './live.ts'
import { registerDashboard } from './dashboard.ts'

export interface AppDeps {
  metrics: Metrics
  /** Checks for /readyz: name → probe that throws when the dependency is unreachable. */
  readiness?: Record<string, () => Promise<void>>
  db?: Db
  hub?: LiveHub
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
  const what = params.additionalProperty
    ? 'is not a parameter of this endpoint'
    : params.missingProperty
      ? 'is required'
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
  app.get('/healthz', () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, string> = {}
    let ok = true
    for (const [name, probe] of Object.entries(deps.readiness ?? {})) {
      try {
        await probe()
        checks[name] = 'ok'
      } catch (err) {
        ok = false
        checks[name] = err instanceof Error ? err.message : String(err)
      }
    }
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks })
  })
  app.get('/metrics', async (_req, reply) => {
    const body = await deps.metrics.registry.metrics()
    return reply.header('content-type', deps.metrics.registry.contentType).send(body)
  })
  if (deps.db) {
    await app.register(swagger, { openapi: { info: { title: 'tickflow API', version: '1' } } })
    await app.register(swaggerUi, { routePrefix: '/docs' })
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
