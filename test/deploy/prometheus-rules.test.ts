// The Prometheus configuration and alert rules are valid, and every alert is unit-tested with
// promtool (Debian's prometheus package; .ci/run installs it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from '../support/kafka.ts'
import { createMetrics } from '../../src/metrics/registry.ts'

const dir = join(root, 'deploy/prometheus')

function promtool(args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string }
    if (e.code === 'ENOENT') assert.fail('promtool not found: install Debian package prometheus')
    assert.fail(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  }
}

test('promtool accepts prometheus.yml and the rules, and the rules pass their unit tests', () => {
  assert.match(promtool(['check', 'config', 'prometheus.yml']), /SUCCESS/)
  assert.match(promtool(['check', 'rules', 'rules/tickflow.yml']), /SUCCESS: 10 rules found/)
  assert.match(promtool(['test', 'rules', 'rules/tickflow.test.yml']), /SUCCESS/)
})

test('every alert has a unit test, and every metric the rules use exists', () => {
  const rules = readFileSync(join(dir, 'rules/tickflow.yml'), 'utf8')
  const tests = readFileSync(join(dir, 'rules/tickflow.test.yml'), 'utf8')
  const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!)
  assert.equal(alerts.length, 10)
  for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\b`), `${a} has no test`)
  const tickflowNames = new Set(
    createMetrics({ defaultMetrics: false })
      .registry.getMetricsAsArray()
      .map((m) => m.name),
  )
  const jmx = readFileSync(join(root, 'deploy/kafka/jmx-exporter.yml'), 'utf8')
  for (const [, name] of rules.matchAll(/\b((?:tickflow|kafka)_[a-z_]+)/g)) {
    if (name!.startsWith('tickflow_'))
      assert.ok(
        tickflowNames.has(name!.replace(/_total$/, '')) || tickflowNames.has(name!),
        `${name} is not a tickflow metric`,
      )
    else
      assert.ok(
        jmx
          .toLowerCase()
          .includes(
            name!.replace('kafka_server_replicamanager_', 'kafka_server_replicamanager_$1').split('$1')[0]!,
          ),
        `${name} is not exported by the JMX config`,
      )
  }
})
