// The source adapters tickflow knows, and everything derived from what each one declares in its own
// file: the settings the configuration loader reads (shown in help, docs/configuration.md and
// .env.example), the options a source is built from, and doctor's check of the selected source.
// Adding a provider is adding its file and its line in `adapters` below.
import type { Setting } from '../config/schema.ts'
import { ConfigError } from '../errors.ts'
import type { SourceAdapter, SourceCheck, SourceSetting } from './types.ts'
import { simulator } from './simulator.ts'
import { replay } from './replay.ts'
import { binance } from './binance.ts'
import { finnhub } from './finnhub.ts'
import { alpaca } from './alpaca.ts'
import { polygon } from './polygon.ts'
import { alphavantage } from './alphavantage.ts'

/** An adapter of any option type, as the registry holds them side by side. */
export type AnyAdapter = SourceAdapter<never>
const entry = <Options>(adapter: SourceAdapter<Options>): AnyAdapter => adapter as AnyAdapter

export interface SourceRegistry {
  readonly adapters: Readonly<Record<string, AnyAdapter>>
  readonly names: readonly string[]
  /** Every source's settings, keyed `<source>.<option>`, in registry order. */
  readonly settings: readonly Setting[]
  /**
   * The options of source `name` from its settings' loaded values (by key; unset ones left out).
   * Throws the ConfigError naming the missing variables when a required setting is unset.
   */
  optionsOf(name: string, values: Record<string, unknown>): Record<string, unknown>
  /** doctor's check of source `name` (its own, or whether its required settings are set). */
  check(name: string, values: Record<string, unknown>): Promise<SourceCheck>
}

const declared = (a: AnyAdapter): [string, SourceSetting][] => Object.entries(a.settings ?? {})
const keyOf = (a: AnyAdapter, option: string): string => `${a.name}.${option}`

/** The environment variables (or flags) a person sets for these settings, e.g. `A and B`. */
function named(list: [string, SourceSetting][]): string {
  return list.map(([option, s]) => s.env ?? (s.flag ? `--${s.flag}` : option)).join(' and ')
}

function valuesBy(a: AnyAdapter, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [option] of declared(a)) {
    const v = values[keyOf(a, option)]
    if (v !== undefined) out[option] = v
  }
  return out
}

export function sourceRegistry(list: readonly AnyAdapter[]): SourceRegistry {
  const adapters: Record<string, AnyAdapter> = {}
  for (const a of list) {
    if (adapters[a.name]) throw new Error(`two sources are named ${a.name}`)
    adapters[a.name] = a
  }
  const settings: Setting[] = list.flatMap((a) =>
    declared(a).map(([option, s]) => ({
      ...s,
      key: keyOf(a, option),
      help: `${a.name}: ${s.help}${s.required ? ` (required by --source ${a.name})` : ''}`,
    })),
  )
  const missing = (a: AnyAdapter, values: Record<string, unknown>): [string, SourceSetting][] =>
    declared(a).filter(([option, s]) => s.required && values[keyOf(a, option)] === undefined)
  return {
    adapters,
    names: list.map((a) => a.name),
    settings,
    optionsOf(name, values) {
      const a = adapters[name]
      if (!a) return {}
      const absent = missing(a, values)
      if (absent.length > 0) throw new ConfigError(`--source ${name} needs ${named(absent)}`)
      return valuesBy(a, values)
    },
    async check(name, values) {
      const a = adapters[name]
      if (!a)
        return { status: 'FAIL', detail: `unknown source; one of ${list.map((x) => x.name).join(', ')}` }
      if (a.doctor) return a.doctor(valuesBy(a, values))
      const absent = missing(a, values)
      if (absent.length > 0) return { status: 'FAIL', detail: `--source ${name} needs ${named(absent)}` }
      const required = declared(a).filter(([, s]) => s.required)
      return {
        status: 'ok',
        detail: required.length > 0 ? `${named(required)} is set` : 'needs no credentials',
      }
    },
  }
}

export const registry = sourceRegistry([
  entry(simulator),
  entry(replay),
  entry(binance),
  entry(finnhub),
  entry(alpaca),
  entry(polygon),
  entry(alphavantage),
])
