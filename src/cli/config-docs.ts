// npm run docs:config: writes docs/configuration.md and the sources' part of .env.example from the
// configuration table and the source registry (tests compare both files with what this renders).
import { readFileSync, writeFileSync } from 'node:fs'
import {
  configDocsPath,
  envExamplePath,
  formatMarkdown,
  renderConfigDocs,
  renderEnvExample,
  type SourceDoc,
} from '../config/docs.ts'
import { registry, type SourceRegistry } from '../sources/registry.ts'
import { settingsWith } from './settings.ts'

export function sourceDocs(reg: SourceRegistry): SourceDoc[] {
  return reg.names.map((name) => ({
    name,
    summary: reg.adapters[name]!.summary,
    settings: reg.settings.filter((s) => s.key.startsWith(`${name}.`)),
  }))
}

export function formattedConfigDocs(reg: SourceRegistry = registry): Promise<string> {
  return formatMarkdown(renderConfigDocs(settingsWith(reg), sourceDocs(reg)))
}

export function envExample(reg: SourceRegistry = registry): string {
  return renderEnvExample(readFileSync(envExamplePath, 'utf8'), sourceDocs(reg))
}

if (import.meta.main) {
  writeFileSync(configDocsPath, await formattedConfigDocs())
  writeFileSync(envExamplePath, envExample())
}
