// Help texts, written from the command table, the configuration schema and the source registry.
import type { Setting } from '../config/schema.ts'
import { registry, type SourceRegistry } from '../sources/registry.ts'
import type { Command } from './command.ts'
import { settingsWith } from './settings.ts'

export function generalHelp(commands: Record<string, Command>, reg: SourceRegistry = registry): string {
  return [
    'usage: tickflow <command> [options]',
    '       tickflow <command> --help | tickflow --version',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(11)} ${c.summary}`),
    '',
    'options (flag, environment variable), common to every command:',
    ...settingLines(settingsWith(reg)),
    '',
    'sources (--source NAME) and the variables they read:',
    ...sourceLines(reg),
    '',
    'Settings: docs/configuration.md. Error codes: docs/errors.md.',
  ].join('\n')
}

function settingLines(list: readonly Setting[]): string[] {
  return list
    .filter((s) => s.flag)
    .map((s) => `  --${s.flag!.padEnd(17)} ${(s.env ?? '').padEnd(25)} ${s.help}`)
}

function sourceLines(reg: SourceRegistry): string[] {
  return reg.names.flatMap((name) => {
    const a = reg.adapters[name]!
    const vars = Object.values(a.settings ?? {})
      .filter((s) => s.env)
      .map((s) => `${s.env}${s.required ? ' (required)' : ''}`)
    return [
      `  ${name.padEnd(13)} ${a.summary}`,
      ...(vars.length > 0 ? [`  ${''.padEnd(13)} ${vars.join(', ')}`] : []),
    ]
  })
}

export function commandHelp(name: string, c: Command, reg: SourceRegistry = registry): string {
  const own = Object.entries(c.flags ?? {}).map(
    ([flag, f]) => `  --${`${flag}${f.value ? ` ${f.value}` : ''}`.padEnd(20)} ${f.help}`,
  )
  return [
    `usage: tickflow ${name}${c.usage ? ` ${c.usage}` : ''} [options]`,
    '',
    c.description ?? c.summary,
    ...(own.length > 0 ? ['', `options of ${name}:`, ...own] : []),
    ...(c.rawArgs
      ? []
      : ['', 'common options (flag, environment variable):', ...settingLines(settingsWith(reg))]),
  ].join('\n')
}
