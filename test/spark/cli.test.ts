// `tickflow spark submit`: a bad flag is one line naming it; for a cluster master it prints the
// spark-submit line with the pinned packages and the registry it reads Avro through, never a password.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runCli } from '../support/cli.ts'

const env = { KAFKA_BROKERS: '127.0.0.1:1', DATABASE_URL: 'postgres://tf:s3cret-pw@127.0.0.1:1/tickflow' }

test('tickflow spark submit: bad flags are one line naming them, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['--master', 'yarn'], /^tickflow: invalid --master: "yarn": .* \[TF_CONFIG\]$/],
    [['--watermark', '5'], /^tickflow: invalid --watermark: "5": .* \[TF_CONFIG\]$/],
    [['--trigger', 'soon'], /^tickflow: invalid --trigger: "soon": .* \[TF_CONFIG\]$/],
    [['--metrics-port', '70000'], /^tickflow: invalid --metrics-port: "70000": .* \[TF_CONFIG\]$/],
  ]
  for (const [flags, line] of cases) {
    const r = await runCli(['spark', 'submit', ...flags], env)
    assert.equal(r.code, 2, r.output)
    assert.match(r.output.trim(), line)
  }
  const noDb = await runCli(['spark', 'submit'], { KAFKA_BROKERS: '127.0.0.1:1', DATABASE_URL: '' })
  assert.equal(noDb.code, 2)
  assert.match(noDb.output.trim(), /^tickflow: tickflow spark submit needs DATABASE_URL .* \[TF_CONFIG\]$/)
  const noVerb = await runCli(['spark', 'start'], env)
  assert.equal(noVerb.code, 2)
  assert.match(
    noVerb.output.trim(),
    /^tickflow: tickflow spark needs the verb submit, not "start" \[TF_USAGE\]$/,
  )
})

test('tickflow spark submit --master k8s://… prints the spark-submit line, without the password', async () => {
  const r = await runCli(
    ['spark', 'submit', '--master', 'k8s://https://10.0.0.1:6443', '--watermark', '10s'],
    env,
  )
  assert.equal(r.code, 0, r.output)
  const line = r.output.trim()
  assert.match(line, /^spark-submit --master k8s:\/\/https:\/\/10\.0\.0\.1:6443 --deploy-mode cluster /)
  assert.match(line, / --class tickflow\.spark\.Job /)
  assert.match(
    line,
    / --packages org\.apache\.spark:spark-sql-kafka-0-10_2\.13:4\.2\.0,org\.postgresql:postgresql:42\.7\.14 /,
  )
  assert.match(line, / --conf spark\.kubernetes\.container\.image=apache\/spark:4\.2\.0 /)
  assert.match(line, / --brokers 127\.0\.0\.1:1 --topic ticks --database-url "\$DATABASE_URL" /)
  assert.match(line, / --watermark 10s /)
  assert.doesNotMatch(r.output, /s3cret/)
  assert.doesNotMatch(line, /schema-registry/, 'no registry configured: JSON only')

  // With a registry, the job reads Avro through it; the registry password stays out of the line.
  const avro = await runCli(['spark', 'submit', '--master', 'spark://10.0.0.2:7077'], {
    ...env,
    SCHEMA_REGISTRY_URL: 'http://registry:8080/apis/ccompat/v7',
    SCHEMA_REGISTRY_USERNAME: 'tf',
    SCHEMA_REGISTRY_PASSWORD: 'r3gistry-pw',
  })
  assert.equal(avro.code, 0, avro.output)
  assert.match(
    avro.output.trim(),
    / --schema-registry-url http:\/\/registry:8080\/apis\/ccompat\/v7 --schema-registry-username tf$/,
  )
  assert.doesNotMatch(avro.output, /r3gistry-pw/)
})
