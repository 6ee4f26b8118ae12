// The alerts panel in real Chromium against `tickflow serve`, with trades going through Kafka and
// `tickflow process` into PostgreSQL: a refused rule shows the API's message and marks its field;
// a rule created in the page fires on replayed trades and its firings appear live (WebSocket) with
// the exact trade times, prices and values, and again after a reload (stored); deleting it in the
// page removes it, and its firings, from the API. Any other console error, page error or failed
// request fails the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Page } from 'playwright-core'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { runCli, startCli } from '../support/cli.ts'
import { openBrowser, screenshots, serve } from '../support/dashboard.ts'

/** The cells of a table's body rows, as shown (browser-side code as a string: it runs in the page). */
const cells = (page: Page, table: string): Promise<string[][]> =>
  page.evaluate<string[][]>(
    `[...document.querySelectorAll('${table} tbody tr')].map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))`,
  )

test('alert rules are created, refused with the field named, fire live and are deleted from the dashboard', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-alerts-ui-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('alerts-ui')
  const brokers = testBrokers()
  const bus = createKafkaBus({ brokers, clientId: 'test-alerts-ui' })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: 1 })
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `proc-${topic}`,
    DATABASE_URL: database.url,
  }
  const replay = async (name: string, rows: string[]): Promise<void> => {
    const file = join(dir, name)
    writeFileSync(file, ['symbol,time,price,size', ...rows, ''].join('\n'))
    const r = await runCli(['replay', file, '--speed', '0'], env)
    assert.equal(r.code, 0, r.output)
  }
  // Below the level before the rule exists: the page has a symbol to open.
  await replay('before.csv', ['ACME,2026-11-24T14:30:00.250Z,100.50,10'])
  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  const address = await serve(t, database.url)
  // stored before the page opens (an empty store shows the empty state instead)
  for (const deadline = Date.now() + 120_000; ; await sleep(200)) {
    const { data } = (await (await fetch(`${address}/api/v1/symbols`)).json()) as { data: unknown[] }
    if (data.length === 1) break
    assert.ok(Date.now() < deadline, `the first trade was not stored: ${proc.output()}`)
  }
  const { page, errors } = await openBrowser(t)
  // a loaded machine: the page's steps wait on the processor and the live poller
  page.setDefaultTimeout(90_000)
  await page.goto(`${address}/?symbol=ACME&interval=1s`)
  await page.waitForFunction('window.__tickflow.ready && window.__tickflow.candles === 1', undefined, {
    timeout: 60_000,
  })
  assert.equal(await page.textContent('#alert-firings-empty'), 'none yet: firings appear here as they happen')

  // A bad level: the API's message, the field marked, nothing created.
  await page.selectOption('#alert-form [name="kind"]', 'price_cross')
  assert.equal(await page.isVisible('#alert-form [name="level"]'), true)
  assert.equal(await page.isVisible('#alert-form [name="threshold"]'), false)
  await page.fill('#alert-form [name="symbols"]', 'acme')
  await page.fill('#alert-form [name="level"]', '101,5')
  await page.click('#alert-form button[type="submit"]')
  await page.waitForFunction(`window.__tickflow.alerts.error !== ''`)
  assert.equal(await page.textContent('#alert-error'), 'level must be a plain decimal number (e.g. "189.5")')
  assert.equal(await page.getAttribute('#alert-form [name="level"]', 'aria-invalid'), 'true')
  assert.equal(await page.evaluate('window.__tickflow.alerts.field'), 'level')
  const none = (await (await fetch(`${address}/api/v1/alerts`)).json()) as { rules: unknown[] }
  assert.deepEqual(none.rules, [])

  // Corrected: created, listed in the page and by the API.
  await page.fill('#alert-form [name="level"]', '101.5')
  await page.fill('#alert-form [name="name"]', 'ACME breakout')
  await page.click('#alert-form button[type="submit"]')
  await page.waitForFunction('window.__tickflow.alerts.rules === 1')
  assert.equal(await page.isVisible('#alert-error'), false)
  assert.equal(await page.getAttribute('#alert-form [name="level"]', 'aria-invalid'), null)
  const { rules } = (await (await fetch(`${address}/api/v1/alerts`)).json()) as {
    rules: { id: string; kind: string; symbols: string[]; direction: string; params: object; name: string }[]
  }
  assert.equal(rules.length, 1)
  const rule = rules[0]!
  assert.deepEqual(
    {
      kind: rule.kind,
      symbols: rule.symbols,
      direction: rule.direction,
      params: rule.params,
      name: rule.name,
    },
    {
      kind: 'price_cross',
      symbols: ['ACME'],
      direction: 'up',
      params: { level: '101.5' },
      name: 'ACME breakout',
    },
  )
  assert.deepEqual(await cells(page, '#alert-rules'), [
    ['ACME breakout', 'ACME', 'price crosses ↑ 101.5', 'delete'],
  ])

  // Up through 101.5 twice (at 101.75 and at 102.00), down once in between: two firings, live.
  await replay('cross.csv', [
    'ACME,2026-11-24T14:30:01.000Z,101.25,10',
    'ACME,2026-11-24T14:30:02.125Z,101.75,20',
    'ACME,2026-11-24T14:30:03.000Z,101.00,30',
    'ACME,2026-11-24T14:30:04.500Z,102.00,40',
  ])
  await page.waitForFunction('window.__tickflow.alerts.firings === 2', undefined, { timeout: 60_000 })
  const expected = [
    ['2026-11-24 14:30:04.500000', 'ACME', 'ACME breakout', '102.00', '102.00'],
    ['2026-11-24 14:30:02.125000', 'ACME', 'ACME breakout', '101.75', '101.75'],
  ]
  assert.deepEqual(await cells(page, '#alert-firings'), expected)
  assert.equal(await page.isVisible('#alert-firings-empty'), false)
  // The same as stored.
  const stored = (await (await fetch(`${address}/api/v1/alerts/firings?rule=${rule.id}`)).json()) as {
    firings: { ts: string; price: string; value: string }[]
  }
  assert.deepEqual(
    stored.firings.map((f) => [f.ts, f.price, f.value]),
    [
      ['2026-11-24T14:30:04.500000Z', '102.00', '102.00'],
      ['2026-11-24T14:30:02.125000Z', '101.75', '101.75'],
    ],
  )
  // After a reload the stored ones are shown.
  await page.reload()
  await page.waitForFunction('window.__tickflow.ready && window.__tickflow.alerts.firings === 2')
  assert.deepEqual(await cells(page, '#alert-firings'), expected)
  await screenshots(page, 'dashboard-alerts')

  // Deleted in the page: gone from the page and from the API, its firings with it.
  await page.click(`#alert-rules button[data-delete="${rule.id}"]`)
  await page.waitForFunction('window.__tickflow.alerts.rules === 0 && window.__tickflow.alerts.firings === 0')
  const after = (await (await fetch(`${address}/api/v1/alerts`)).json()) as { rules: unknown[] }
  assert.deepEqual(after.rules, [])
  const left = (await (await fetch(`${address}/api/v1/alerts/firings`)).json()) as { firings: unknown[] }
  assert.deepEqual(left.firings, [])
  assert.equal(await page.textContent('#alert-rules tbody'), 'no rules yet')
  // the refused create only (Chromium logs every 4xx response to the console too)
  assert.deepEqual(errors, [
    `HTTP 400 ${address}/api/v1/alerts`,
    'console: Failed to load resource: the server responded with a status of 400 (Bad Request)',
  ])
})
