// Loads the configuration once, in one order: flag → environment → `.env` → default. A bad value
// stops the process with one ConfigError line that names the flag or variable and never echoes a
// secret's value. The sources' own settings (declared in their files) go through the same loader.
import { existsSync, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { z } from 'zod'
import { ConfigError } from '../errors.ts'
import { configSchema, settings, type Config, type Setting } from './schema.ts'

export interface ConfigSources {
  flags?: Record<string, string | undefined>
  env?: NodeJS.ProcessEnv
  /** Path of a .env file; read when present. */
  dotenvPath?: string
}

export interface LoadedConfig {
  config: Config
  /** The values of the extra settings (the sources' own), by key. */
  extra: Record<string, unknown>
}

export function loadConfig(sources: ConfigSources = {}): Config {
  return loadConfigWith(sources, []).config
}

/** The configuration and the values of `extra` settings, validated together in one pass. */
export function loadConfigWith(sources: ConfigSources, extra: readonly Setting[]): LoadedConfig {
  const flags = sources.flags ?? {}
  const env = sources.env ?? process.env
  const dotenvPath = sources.dotenvPath ?? '.env'
  const dotenv = existsSync(dotenvPath) ? parseEnv(readFileSync(dotenvPath, 'utf8')) : {}
  const all = [...settings, ...extra]
  const raw: Record<string, string | undefined> = {}
  const origin: Record<string, string> = {}
  for (const s of all) {
    if (s.flag && flags[s.flag] !== undefined) {
      raw[s.key] = flags[s.flag]
      origin[s.key] = `--${s.flag}`
    } else if (s.env && env[s.env] !== undefined && env[s.env] !== '') {
      raw[s.key] = env[s.env]
      origin[s.key] = s.env
    } else if (s.env && dotenv[s.env] !== undefined && dotenv[s.env] !== '') {
      raw[s.key] = dotenv[s.env]
      origin[s.key] = `${s.env} (from ${dotenvPath})`
    }
  }
  const extraSchema = z.object(Object.fromEntries(extra.map((s) => [s.key, s.schema])))
  const parsed = configSchema.safeParse(raw)
  const parsedExtra = extraSchema.safeParse(raw)
  if (parsed.success && parsedExtra.success) return { config: parsed.data, extra: parsedExtra.data }
  // The first issue in table order names the setting, as a person reads the help top to bottom.
  const issues = [...(parsed.error?.issues ?? []), ...(parsedExtra.error?.issues ?? [])]
  const first = all.find((s) => issues.some((i) => i.path[0] === s.key)) ?? all[0]!
  const why = issues.find((i) => i.path[0] === first.key)?.message ?? 'invalid value'
  const shown = first.secret ? '' : ` ${JSON.stringify(raw[first.key])}`
  throw new ConfigError(`invalid ${origin[first.key] ?? first.key}:${shown} ${why}`)
}

/** The configuration with secrets replaced, safe to log. */
export function redact(config: Config): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config }
  for (const s of settings) if (s.secret && copy[s.key] !== undefined) copy[s.key] = '[redacted]'
  return copy
}
