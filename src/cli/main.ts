// The `tickflow` command line: parses flags, loads the configuration once, and runs a command.
// Every failure the user can fix ends as one line on standard error naming what is wrong.
import { parseArgs } from 'node:util'
import { settings } from '../config/schema.ts'
import { loadConfig } from '../config/load.ts'
import { TickflowError, UsageError, errorMessage } from '../errors.ts'
import { commands } from './commands.ts'

const extraFlags = {
  file: { type: 'string' },
  format: { type: 'string' },
  columns: { type: 'string' },
  'source-name': { type: 'string' },
  symbol: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

function usage(): string {
  const lines = [
    'usage: tickflow <command> [options]',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    '',
    'options (flag, environment variable):',
    ...settings
      .filter((s) => s.flag)
      .map((s) => `  --${s.flag!.padEnd(14)} ${(s.env ?? '').padEnd(22)} ${s.help}`),
    '  --file, --format, --columns, --source-name, --symbol   replay options (see docs/replay.md)',
  ]
  return lines.join('\n')
}

export async function main(argv: string[]): Promise<number> {
  try {
    const raw = argv[0] ? commands[argv[0]] : undefined
    if (raw?.rawArgs)
      return await raw.run({
        config: loadConfig({ flags: {} }),
        args: argv.slice(1),
        flags: {},
        booleans: {},
      })
    const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { ...extraFlags }
    for (const s of settings) if (s.flag) options[s.flag] = { type: 'string' }
    let parsed
    try {
      parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    } catch (err) {
      throw new UsageError(
        errorMessage(err)
          .replace(/\. To specify.*$/s, '')
          .replace(/^Unknown option/, 'unknown option'),
      )
    }
    const [name, ...rest] = parsed.positionals
    if (!name || parsed.values.help || name === 'help') {
      process.stdout.write(`${usage()}\n`)
      return name ? 0 : parsed.values.help ? 0 : 2
    }
    const command = commands[name]
    if (!command)
      throw new UsageError(
        `unknown command ${JSON.stringify(name)} (try: ${Object.keys(commands).join(', ')})`,
      )
    const flags: Record<string, string | undefined> = {}
    for (const [k, v] of Object.entries(parsed.values)) if (typeof v === 'string') flags[k] = v
    const config = loadConfig({ flags })
    return await command.run({
      config,
      args: rest,
      flags,
      booleans: parsed.values,
    })
  } catch (err) {
    if (err instanceof TickflowError) {
      process.stderr.write(`tickflow: ${err.message}\n`)
      return 2
    }
    process.stderr.write(
      `tickflow: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    return 1
  }
}
