// The API's documentation is true: the OpenAPI document lists every route the server has (the
// WebSocket stream, health, readiness and metrics included) with a 400 response wherever a route
// takes parameters, docs/api.md's table names the same endpoints, and every example in docs/api.md
// runs against a live server on real PostgreSQL with status 200.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'
import { setup } from '../support/api.ts'
import { root } from '../support/kafka.ts'

const doc = readFileSync(join(root, 'docs/api.md'), 'utf8')

/** Shell words of one example line: single-quoted strings and bare words. */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!)
}

test('the OpenAPI document and docs/api.md cover every route, with 400 responses', async (t) => {
  const { app } = await setup(t)
  const openapi = (await app.inject('/docs/json')).json<{
    paths: Record<string, { get: { parameters?: unknown[]; responses: Record<string, unknown> } }>
  }>()
  const routes = app
    .printRoutes({ commonPrefix: false })
    .split('\n')
    .filter((l) => l.includes('GET'))
  assert.ok(routes.length > 0)
  const documented = Object.keys(openapi.paths)
  for (const path of [
    '/healthz',
    '/readyz',
    '/metrics',
    '/api/v1/symbols',
    '/api/v1/stats',
    '/api/v1/trades',
    '/api/v1/bars',
    '/api/v1/quotes/latest',
    '/api/v1/dead-letters',
    '/api/v1/dead-letters/reasons',
    '/api/v1/stream',
  ]) {
    assert.ok(app.hasRoute({ method: 'GET', url: path }), `${path} is not a route`)
    assert.ok(documented.includes(path), `${path} is missing from the OpenAPI document`)
    assert.ok(doc.includes(`\`GET ${path}\``), `${path} is missing from the table in docs/api.md`)
  }
  // And the other way round: nothing under /api/v1 is undocumented in either place.
  const table = [...doc.matchAll(/^\| `GET (\/\S+)`/gm)].map((m) => m[1]!)
  for (const path of documented.filter((p) => p.startsWith('/api/') && openapi.paths[p]!.get)) {
    assert.ok(table.includes(path), `${path} is in the OpenAPI document but not in docs/api.md`)
    const get = openapi.paths[path]!.get
    assert.ok(get.responses['400'], `${path} has no 400 response`)
  }
  assert.ok(openapi.paths['/api/v1/stream']!.get.responses['101'])
  const trades = openapi.paths['/api/v1/trades']!.get.parameters as { name: string }[]
  assert.deepEqual(trades.map((p) => p.name).sort(), [
    'cursor',
    'format',
    'from',
    'limit',
    'order',
    'symbol',
    'to',
  ])
})

test('every example in docs/api.md answers 200 from a live server', async (t) => {
  const { app } = await setup(t)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const block = /```sh\n([\s\S]*?)```/.exec(doc)?.[1] ?? ''
  const lines = block.split('\n').filter((l) => /^(curl|websocat) /.test(l))
  assert.ok(lines.length >= 14, `${lines.length} examples found`)
  const ran = new Set<string>()
  for (const line of lines) {
    const [cmd, ...args] = words(line)
    const url = args
      .find((a) => /^(https?|ws):\/\//.test(a))!
      .replace(/^(https?|ws):\/\/127\.0\.0\.1:8080/, '')
    ran.add(url.split('?')[0]!)
    if (cmd === 'websocat') {
      const ws = new WebSocket(`${base.replace('http', 'ws')}${url}`)
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (m: Buffer) => resolve(m.toString()))
        ws.once('error', reject)
      })
      ws.terminate()
      assert.equal((JSON.parse(first) as { type: string }).type, 'hello', line)
      continue
    }
    const headers: Record<string, string> = {}
    for (let i = 0; i < args.length; i++) {
      if (args[i] !== '-H') continue
      const [name, ...value] = args[++i]!.split(':')
      headers[name!.trim()] = value.join(':').trim()
    }
    const res = await fetch(`${base}${url}`, { headers })
    const body = await res.text()
    assert.equal(res.status, 200, `${line}: ${body}`)
    if (url.includes('format=csv') || headers.Accept === 'text/csv') assert.match(body, /^[a-zA-Z,]+\n/, line)
  }
  // Every endpoint of the table has an example.
  for (const path of [...doc.matchAll(/^\| `GET (\/\S+)`/gm)].map((m) => m[1]!))
    assert.ok(ran.has(path), `no example for ${path}`)
})
