// doctor's schema-registry line: reachable (refused told from silent), how many subjects, and the
// version the producer's subject `<topic>-value` is at; a subject not registered yet is a note (the
// first producer registers it).
import type { Config } from '../config/schema.ts'
import { SchemaRegistry } from '../bus/registry.ts'
import { errorMessage } from '../errors.ts'
import { describeProbe, probeTcp } from './probe.ts'

export interface RegistryCheck {
  name: string
  status: 'ok' | 'FAIL' | 'note'
  detail: string
}

export async function registryChecks(config: Config, probeMs: number): Promise<RegistryCheck[]> {
  const name = 'registry'
  const format = config.wireFormat ?? (config.schemaRegistryUrl ? 'avro' : 'json')
  if (!config.schemaRegistryUrl) {
    if (format === 'avro')
      return [{ name, status: 'FAIL', detail: 'TICKFLOW_WIRE_FORMAT=avro needs SCHEMA_REGISTRY_URL' }]
    return [{ name, status: 'ok', detail: 'SCHEMA_REGISTRY_URL not set: trades travel as JSON' }]
  }
  const url = new URL(config.schemaRegistryUrl)
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
  const probe = await probeTcp(url.hostname, port, probeMs)
  const where = `${url.hostname}:${port}`
  if (probe.state !== 'open')
    return [
      {
        name,
        status: 'FAIL',
        detail: `${describeProbe('schema registry', where, probe)} (SCHEMA_REGISTRY_URL)`,
      },
    ]
  const registry = new SchemaRegistry({
    url: config.schemaRegistryUrl,
    username: config.schemaRegistryUsername,
    password: config.schemaRegistryPassword,
    timeoutMs: probeMs,
  })
  try {
    const subjects = await registry.subjects()
    const subject = `${config.kafkaTopic}-value`
    const base = `${where}: ${subjects.length} subject(s); producers write ${format}`
    if (!subjects.includes(subject))
      return [
        {
          name,
          status: 'note',
          detail: `${base}; ${subject} not registered yet (the first producer registers it)`,
        },
      ]
    const versions = await registry.versions(subject)
    return [{ name, status: 'ok', detail: `${base}; ${subject} at version ${versions.at(-1)}` }]
  } catch (err) {
    return [
      {
        name,
        status: 'FAIL',
        detail: `schema registry at ${where}: ${errorMessage(err)} (SCHEMA_REGISTRY_URL)`,
      },
    ]
  }
}
