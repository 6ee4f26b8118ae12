// Every setting the command line knows: the configuration table (config/schema.ts) joined with the
// settings each source declares in its own file (through sources/registry.ts). Help, completion,
// docs/configuration.md and .env.example are written from this list.
import { settings, type Setting } from '../config/schema.ts'
import { loadConfigWith, type ConfigSources, type LoadedConfig } from '../config/load.ts'
import { registry, type SourceRegistry } from '../sources/registry.ts'

/** The settings of the table and of the registry's sources; --source names the registered ones. */
export function settingsWith(reg: SourceRegistry): Setting[] {
  return [
    ...settings.map((s) =>
      s.key === 'source' ? { ...s, help: `where trades come from: ${reg.names.join(', ')}` } : s,
    ),
    ...reg.settings,
  ]
}

export const allSettings: readonly Setting[] = settingsWith(registry)

/** The configuration and the sources' settings, validated in one pass. */
export function loadAll(sources: ConfigSources): LoadedConfig {
  return loadConfigWith(sources, registry.settings)
}
