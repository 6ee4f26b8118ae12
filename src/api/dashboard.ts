// Serves the built dashboard (src/dashboard/dist, made by `npm run build:dashboard`) at /.
import { readFile } from 'node:fs/promises'
import { extname, join, normalize } from 'node:path'
import type { FastifyInstance } from 'fastify'

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
}

export function registerDashboard(app: FastifyInstance, dist: string): Promise<void> {
  app.get('/', async (_req, reply) =>
    reply.type(types['.html']!).send(await readFile(join(dist, 'index.html'))),
  )
  app.get<{ Params: { '*': string } }>('/assets/*', async (req, reply) => {
    const rel = normalize(req.params['*']).replace(/^(\.\.[/\\])+/, '')
    try {
      const body = await readFile(join(dist, 'assets', rel))
      return reply
        .type(types[extname(rel)] ?? 'application/octet-stream')
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(body)
    } catch {
      return reply.code(404).send({ error: 'not_found', message: 'no such asset' })
    }
  })
  return Promise.resolve()
}
