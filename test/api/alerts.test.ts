// Alert rules through the API: created, listed and deleted; a bad field gets 400 naming it; a
// firing stored by a batch reaches WebSocket subscribers of its symbol (through the live tail of
// `tickflow serve`) and GET /api/v1/alerts/firings.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from '../support/kafka.ts'
import { setup } from '../support/api.ts'
import { tradeItem } from '../support/trades.ts'
import { startPoller } from '../../src/api/poller.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { writeBatch } from '../../src/processor/plan.ts'

const AAPL_UP = { kind: 'price_cross', symbol: 'aapl', direction: 'up', level: '190' }

test('alert rules are created, listed and deleted', async (t) => {
  const { app } = await setup(t)
  const bodies = [
    AAPL_UP,
    {
      kind: 'percent_move',
      symbols: ['AAPL', 'msft'],
      direction: 'down',
      percent: '1.5',
      window: 60,
      name: 'drop',
    },
    {
      kind: 'volume_spike',
      symbols: ['MSFT'],
      multiple: '3',
      period: 20,
      interval: '1m',
      webhook: 'http://127.0.0.1:9/hook',
    },
    {
      kind: 'indicator_cross',
      symbol: 'MSFT',
      indicator: 'rsi',
      period: 14,
      interval: '5m',
      threshold: '70',
    },
  ]
  const ids: string[] = []
  for (const body of bodies) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/alerts', payload: body })
    assert.equal(res.statusCode, 201, res.body)
    ids.push(res.json<{ id: string }>().id)
  }
  const list = (await app.inject('/api/v1/alerts')).json<{ rules: Record<string, unknown>[] }>().rules
  assert.deepEqual(
    list.map(({ createdAt, ...r }) => (assert.match(String(createdAt), /^\d{4}-.*Z$/), r)),
    [
      {
        id: ids[0],
        name: null,
        kind: 'price_cross',
        params: { level: '190' },
        symbols: ['AAPL'],
        direction: 'up',
        webhookUrl: null,
      },
      {
        id: ids[1],
        name: 'drop',
        kind: 'percent_move',
        params: { percent: '1.5', windowSeconds: 60 },
        symbols: ['AAPL', 'MSFT'],
        direction: 'down',
        webhookUrl: null,
      },
      {
        id: ids[2],
        name: null,
        kind: 'volume_spike',
        params: { multiple: '3', period: 20, interval: '1m' },
        symbols: ['MSFT'],
        direction: 'up',
        webhookUrl: 'http://127.0.0.1:9/hook',
      },
      {
        id: ids[3],
        name: null,
        kind: 'indicator_cross',
        params: { indicator: 'rsi', period: 14, interval: '5m', threshold: '70' },
        symbols: ['MSFT'],
        direction: 'up',
        webhookUrl: null,
      },
    ],
  )
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/alerts/${ids[1]}` })).statusCode, 204)
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/alerts/${ids[1]}` })).statusCode, 404)
  const after = (await app.inject('/api/v1/alerts')).json<{ rules: { id: string }[] }>().rules
  assert.deepEqual(
    after.map((r) => r.id),
    [ids[0], ids[2], ids[3]],
  )
})

test('a bad alert rule gets 400 naming the field', async (t) => {
  const { app } = await setup(t)
  const cases: [object, string][] = [
    [{ symbol: 'AAPL', level: '1' }, 'kind'],
    [{ kind: 'price_swing', symbol: 'AAPL' }, 'kind'],
    [{ kind: 'price_cross', symbol: 'AAPL', level: 'abc' }, 'level'],
    [{ kind: 'price_cross', symbol: 'AAPL', level: '0' }, 'level'],
    [{ kind: 'price_cross', symbol: 'AAPL', levle: '1' }, 'levle'],
    [{ kind: 'price_cross', symbols: [], level: '1' }, 'symbols'],
    [{ kind: 'price_cross', symbol: 'a a', level: '1' }, 'symbol'],
    [{ kind: 'price_cross', level: '1' }, 'symbols'],
    [{ kind: 'price_cross', symbol: 'AAPL', level: '1', direction: 'sideways' }, 'direction'],
    [{ kind: 'percent_move', symbol: 'AAPL', percent: '1', window: 0 }, 'window'],
    [{ kind: 'volume_spike', symbol: 'AAPL', multiple: '2', period: 10, interval: '1d' }, 'interval'],
    [
      { kind: 'volume_spike', symbol: 'AAPL', multiple: '2', period: 10, interval: '1m', direction: 'down' },
      'direction',
    ],
    [
      {
        kind: 'indicator_cross',
        symbol: 'AAPL',
        indicator: 'macd',
        period: 14,
        interval: '1m',
        threshold: '70',
      },
      'indicator',
    ],
    [
      {
        kind: 'indicator_cross',
        symbol: 'AAPL',
        indicator: 'rsi',
        period: 14,
        interval: '1m',
        threshold: '120',
      },
      'threshold',
    ],
    [{ kind: 'price_cross', symbol: 'AAPL', level: '1', webhook: 'ftp://127.0.0.1/x' }, 'webhook'],
  ]
  for (const [body, param] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/alerts', payload: body })
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`)
    const err = res.json<{ error: string; param: string; message: string }>()
    assert.equal(err.error, 'bad_request')
    assert.equal(err.param, param, `${JSON.stringify(body)}: ${err.message}`)
    assert.ok(err.message.includes(param), err.message)
  }
  assert.equal(
    (await app.inject({ method: 'DELETE', url: '/api/v1/alerts/x1' })).json<{ param: string }>().param,
    'id',
  )
  assert.equal((await app.inject('/api/v1/alerts/firings?rule=abc')).json<{ param: string }>().param, 'rule')
  assert.deepEqual((await app.inject('/api/v1/alerts')).json(), { rules: [] })
})

test('a firing reaches the WebSocket subscribers of its symbol and the firings list', async (t) => {
  const { app, db, hub } = await setup(t)
  const rule = (await app.inject({ method: 'POST', url: '/api/v1/alerts', payload: AAPL_UP })).json<{
    id: string
  }>()
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const stop = startPoller(db, hub, 100)
  t.after(stop)
  const messages: { type: string; data: Record<string, unknown> }[] = []
  const open = (symbols: string): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/api/v1/stream?symbols=${symbols}`)
      ws.once('message', () => resolve(ws))
      ws.once('error', reject)
      t.after(() => ws.terminate())
    })
  const aapl = await open('AAPL')
  aapl.on('message', (m: Buffer) => messages.push(JSON.parse(m.toString()) as (typeof messages)[number]))
  const msft = await open('MSFT')
  const other: string[] = []
  msft.on('message', (m: Buffer) => other.push(m.toString()))
  // the stored AAPL trades end at 188.90 (15:31:05.25); 190.05 crosses 190 upwards
  const result = await writeBatch(new TickStore(db), 'g', [
    tradeItem(100, { symbol: 'AAPL', ts: '2026-11-24T15:31:06Z', price: '189.95', id: 'x1' }),
    tradeItem(101, { symbol: 'AAPL', ts: '2026-11-24T15:31:07Z', price: '190.05', id: 'x2' }),
  ])
  assert.equal(result.firings?.length, 1)
  for (const deadline = Date.now() + 10_000; !messages.some((m) => m.type === 'alert');) {
    assert.ok(Date.now() < deadline, 'no alert on the stream')
    await new Promise((r) => setTimeout(r, 50))
  }
  const alert = messages.find((m) => m.type === 'alert')!
  assert.deepEqual(alert.data, {
    id: result.firings[0]!.id,
    ruleId: rule.id,
    symbol: 'AAPL',
    ts: '2026-11-24T15:31:07.000000Z',
    price: '190.05',
    value: '190.05',
  })
  assert.ok(!other.some((m) => m.includes('"alert"')))
  const listed = (await app.inject(`/api/v1/alerts/firings?rule=${rule.id}`)).json<{
    firings: Record<string, unknown>[]
  }>()
  assert.equal(listed.firings.length, 1)
  assert.equal(listed.firings[0]!.event, 'ticks/0/101')
  assert.equal(listed.firings[0]!.id, result.firings[0]!.id)
})

test('every example of "Alerts" in docs/analytics.md runs against a live server', async (t) => {
  const { app } = await setup(t)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const doc = readFileSync(join(root, 'docs/analytics.md'), 'utf8')
  const section = doc.slice(doc.indexOf('## Alerts'))
  const end = section.indexOf('\n## ', 3)
  const text = end < 0 ? section : section.slice(0, end)
  const block = /```sh\n([\s\S]*?)```/.exec(text)?.[1] ?? ''
  const lines = block.split('\n').filter((l) => l.startsWith('curl '))
  assert.equal(lines.length, 7)
  const statuses: number[] = []
  let first: unknown
  for (const line of lines) {
    const words = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!)
    const url = words
      .find((w) => w.startsWith('http://127.0.0.1:8080'))!
      .replace('http://127.0.0.1:8080', base)
    const opt = (flag: string): string | undefined => {
      const i = words.indexOf(flag)
      return i < 0 ? undefined : words[i + 1]
    }
    const header = opt('-H')?.split(':')
    const res = await fetch(url, {
      method: opt('-X') ?? 'GET',
      headers: header ? { [header[0]!]: header[1]!.trim() } : {},
      body: opt('-d'),
    })
    statuses.push(res.status)
    const body = await res.text()
    assert.ok(res.status < 300, `${line}: ${res.status} ${body}`)
    first ??= JSON.parse(body)
  }
  assert.deepEqual(statuses, [201, 201, 201, 201, 200, 200, 204])
  const shown = /The first answers `201` with the stored rule:\n`(\{.*\})`/.exec(text)![1]!
  const { createdAt, ...rest } = first as { createdAt: string }
  assert.match(createdAt, /Z$/)
  assert.deepEqual({ ...rest, createdAt: '…' }, JSON.parse(shown))
})
