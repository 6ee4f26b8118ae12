// Logs: JSON lines (pino) for machines; readable lines (pino-pretty) on a terminal. LOG_FILE is
// opened here, before anything starts, so a path that cannot be written stops the process with one
// line instead of a service running without logs.
import { openSync } from 'node:fs'
import { dirname } from 'node:path'
import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { Config } from '../config/schema.ts'
import { makeDirs } from './make-dirs.ts'
import { TickflowError, errorMessage } from '../errors.ts'

type LogConfig = Pick<Config, 'logLevel' | 'logFile'> & Partial<Pick<Config, 'logFormat'>>

function openLogFile(path: string): number {
  try {
    makeDirs(dirname(path))
    return openSync(path, 'a')
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a directory' : errorMessage(err)
    throw new TickflowError(
      'TF_FILE',
      `cannot write the log file LOG_FILE / --log-file ${JSON.stringify(path)}: ${why}`,
    )
  }
}

export function createLogger(config: LogConfig, name: string): Logger {
  const options = { name, level: config.logLevel, base: { service: name } }
  if (config.logFile)
    return pino(options, pino.destination({ dest: openLogFile(config.logFile), sync: false }))
  const format = config.logFormat ?? 'auto'
  if (format === 'pretty' || (format === 'auto' && process.stdout.isTTY))
    return pino(
      options,
      pretty({
        colorize: process.stdout.isTTY,
        sync: true,
        ignore: 'pid,hostname,service',
        translateTime: 'SYS:HH:MM:ss.l',
      }),
    )
  // Written synchronously, like the lines for people on standard error (say.ts): with the default
  // asynchronous destination a log line issued before the closing summary could reach a shared
  // output after it.
  return pino(options, pino.destination({ dest: 1, sync: true }))
}
