import { pino, type Logger } from 'pino'
import type { Config } from '../config/schema.ts'

/** JSON logs to standard output, or to LOG_FILE when set. */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFile'>, name: string): Logger {
  const destination = config.logFile
    ? pino.destination({ dest: config.logFile, mkdir: true, sync: false })
    : pino.destination(1)
  return pino({ name, level: config.logLevel, base: { service: name } }, destination)
}
