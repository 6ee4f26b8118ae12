import type { Config } from '../../config/schema.ts'
import { ConfigError } from '../../errors.ts'

export function requireKafka(config: Config, command: string): void {
  if (!config.kafkaBrokers)
    throw new ConfigError(
      `tickflow ${command} needs KAFKA_BROKERS (or --brokers); use tickflow up for the embedded pipeline`,
    )
}
