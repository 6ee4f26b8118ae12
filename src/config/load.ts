// Loads the configuration once, in one order: flag → environment → `.env` → default. A bad value
// stops the process with one ConfigError line that names the flag or variable and never echoes a
// secret's value.
import { existsSync, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { ConfigError } from '../errors.ts'
import { settings, type Config } from './schema.ts'

export interface ConfigSources {
  flags?: Record<string, string | undefined>
  env?: NodeJS.ProcessEnv
  /** Path of a .env file; read when present. */
  dotenvPath?: string
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const flags = sources.flags ?? {}
  const env = sources.env ?? process.env
  const dotenvPath = sources.dotenvPath ?? '.env'
  const dotenv = existsSync(dotenvPath) ? parseEnv(readFileSync(dotenvPath, 'utf8')) : {}
  const out: Record<string, unknown> = {}
  for (const s of settings) {
    let raw: string | undefined
    let origin = ''
    if (s.flag && flags[s.flag] !== undefined) {
      raw = flags[s.flag]
      origin = `--${s.flag}`
    } else if (s.env && env[s.env] !== undefined && env[s.env] !== '') {
      raw = env[s.env]
      origin = s.env
    } else if (s.env && dotenv[s.env] !== undefined && dotenv[s.env] !== '') {
      raw = dotenv[s.env]
      origin = `${s.env} (from ${dotenvPath})`
    }
    const parsed = s.schema.safeParse(raw)
    if (!parsed.success) {
      const why = parsed.error.issues[0]?.message ?? 'invalid value'
      const shown = s.secret ? '' : ` ${JSON.stringify(raw)}`
      throw new ConfigError(`invalid ${origin || s.key}:${shown} ${why}`)
    }
    if (parsed.data !== undefined) out[s.key] = parsed.data
  }
  return out as unknown as Config
}

/** The configuration with secrets replaced, safe to log. */
export function redact(config: Config): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config }
  for (const s of settings) if (s.secret && copy[s.key] !== undefined) copy[s.key] = '[redacted]'
  return copy
}
