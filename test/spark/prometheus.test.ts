// The Spark job's alert rules are valid and unit-tested with promtool, and every metric they use is
// one the job serves (analytics/spark Progress.java).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from '../support/kafka.ts'

const rules = join(root, 'deploy/prometheus/rules')

test('promtool accepts the Spark rules and they pass their unit tests; they use only metrics the job serves', () => {
  const run = (args: string[]): string =>
    execFileSync('promtool', args, { cwd: rules, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  assert.match(run(['check', 'rules', 'spark.yml']), /SUCCESS: 3 rules found/)
  assert.match(run(['test', 'rules', 'spark.test.yml']), /SUCCESS/)
  const yml = readFileSync(join(rules, 'spark.yml'), 'utf8')
  const tests = readFileSync(join(rules, 'spark.test.yml'), 'utf8')
  for (const [, alert] of yml.matchAll(/- alert: (\w+)/g))
    assert.match(tests, new RegExp(`alertname: ${alert}\\b`), `${alert} has no test`)
  const source = readFileSync(
    join(root, 'analytics/spark/src/main/java/tickflow/spark/Progress.java'),
    'utf8',
  )
  const names = [...yml.matchAll(/\btickflow_spark_([a-z_]+)/g)].map((m) => m[1]!)
  assert.ok(names.length >= 2)
  for (const n of names) assert.ok(source.includes(`"${n}"`), `tickflow_spark_${n} is not served by the job`)
  const prometheus = readFileSync(join(root, 'deploy/prometheus/prometheus.yml'), 'utf8')
  assert.match(prometheus, /- rules\/spark\.yml/)
  // Found by name so a stack without the spark profile has no target rather than one that is down.
  assert.match(prometheus, /job_name: spark\n[^]*?names: \['spark'\]\n\s+type: A\n\s+port: 9464\n/)
})
