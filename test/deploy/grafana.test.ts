// Every PromQL expression of the provisioned Grafana dashboard parses (promtool, as recording
// rules) and names only metrics that tickflow or the broker's JMX exporter produce.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root } from '../support/kafka.ts'
import { createMetrics } from '../../src/metrics/registry.ts'

test('the Grafana dashboard queries parse and use existing metrics', (t) => {
  const dash = JSON.parse(readFileSync(join(root, 'deploy/grafana/dashboards/tickflow.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[]
  }
  const exprs = dash.panels.flatMap((p) => p.targets.map((x) => x.expr))
  assert.ok(exprs.length >= 15, `${exprs.length} expressions`)
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-grafana-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const rules = `groups:\n  - name: dashboard\n    rules:\n${exprs.map((e, i) => `      - record: dashboard:expr_${i}\n        expr: ${JSON.stringify(e)}\n`).join('')}`
  writeFileSync(join(dir, 'rules.yml'), rules)
  let out = ''
  try {
    out = execFileSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' })
  } catch (err) {
    const e = err as { code?: string; stdout?: string }
    assert.fail(
      e.code === 'ENOENT'
        ? 'promtool not found: install Debian package prometheus'
        : `promtool rejected a dashboard query:\n${e.stdout}`,
    )
  }
  assert.match(out, new RegExp(`SUCCESS: ${exprs.length} rules found`))
  const names = new Set(
    createMetrics()
      .registry.getMetricsAsArray()
      .map((m) => m.name),
  )
  const jmx = readFileSync(join(root, 'deploy/kafka/jmx-exporter.yml'), 'utf8').toLowerCase()
  const kafkaNames = [
    'kafka_server_brokertopicmetrics_bytesin_total',
    'kafka_server_brokertopicmetrics_bytesout_total',
    'kafka_server_brokertopicmetrics_messagesin_total',
    'kafka_server_replicamanager_underreplicatedpartitions',
    'kafka_network_requestmetrics_totaltimems',
  ]
  assert.match(jmx, /kafka_server_brokertopicmetrics_\$1_total/)
  for (const e of exprs) {
    for (const [, name] of e.matchAll(/\b((?:tickflow|kafka)_[a-z_]+)/g)) {
      const base = name!.replace(/_(bucket|count|sum)$/, '')
      if (name!.startsWith('tickflow_')) assert.ok(names.has(base), `${name} is not a tickflow metric`)
      else assert.ok(kafkaNames.includes(name!), `${name} is not produced by the JMX exporter config`)
    }
  }
})
