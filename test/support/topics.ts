import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'

/** A topic name no other test uses, so tests never see each other's data. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

export function testBrokers(): string[] {
  const b = process.env.TICKFLOW_TEST_KAFKA_BROKERS
  if (!b) throw new Error('TICKFLOW_TEST_KAFKA_BROKERS is not set: run the tests through scripts/test.sh')
  return b.split(',')
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** The environment of tickflow commands on the test brokers: `topic`, group `proc`, `databaseUrl`. */
export function pipelineEnv(topic: string, databaseUrl: string) {
  return {
    KAFKA_BROKERS: testBrokers().join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: 'proc',
    DATABASE_URL: databaseUrl,
  }
}
