// The `tickflow` command line: parses flags, loads the configuration once, and runs a command.
// Every failure ends as one line on standard error, `tickflow: <what> [<code>]`, naming the setting
// to fix; a stack trace only with LOG_LEVEL=debug.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { allSettings, loadAll } from './settings.ts'
import { DiskFullError, TickflowError, UsageError, errorMessage } from '../errors.ts'
import { isDiskFull } from '../store/disk-full.ts'
import type { LoadedConfig } from '../config/load.ts'
import type { Command, CommandContext } from './command.ts'
import { commands } from './commands/index.ts'
import { commandHelp, generalHelp } from './help.ts'
import { suggest } from './suggest.ts'

type Options = Record<string, { type: 'string' | 'boolean'; short?: string }>

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

function optionsOf(command: Command | undefined): Options {
  const options: Options = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } }
  for (const s of allSettings) if (s.flag) options[s.flag] = { type: 'string' }
  for (const [flag, f] of Object.entries(command?.flags ?? {}))
    options[flag] = f.short ? { type: f.type, short: f.short } : { type: f.type }
  return options
}

function unknownCommand(name: string): UsageError {
  const near = suggest(name, Object.keys(commands))
  return new UsageError(
    `unknown command ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : ''}; commands: ${Object.keys(commands).join(', ')}`,
  )
}

/**
 * `--rate -5`: node's parser takes `-5` for an option and calls the value ambiguous. A negative
 * number after a flag that takes a value is that value (`--rate=-5`), so the flag's own check
 * refuses it with its name and range.
 */
function negativeValues(argv: string[], options: ReturnType<typeof optionsOf>): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const [a, next] = [argv[i]!, argv[i + 1] ?? '']
    const takesValue = /^--[^=]+$/.test(a) && options[a.slice(2)]?.type === 'string'
    if (takesValue && /^-\d/.test(next)) out.push(`${a}=${argv[++i]}`)
    else out.push(a)
  }
  return out
}

function parse(argv: string[], command: Command | undefined): ReturnType<typeof parseArgs> {
  const options = optionsOf(command)
  try {
    return parseArgs({ args: negativeValues(argv, options), options, allowPositionals: true, strict: true })
  } catch (err) {
    const flag = /option '(-{1,2}[^']+)'/i.exec(errorMessage(err))?.[1]
    if (flag && /^Unknown option/.test(errorMessage(err))) {
      const near = suggest(flag.replace(/^-+/, ''), Object.keys(options))
      throw new UsageError(`unknown option '${flag}'${near ? ` (did you mean --${near}?)` : ''}`)
    }
    if (flag && /argument is ambiguous/.test(errorMessage(err))) {
      const value = argv[argv.indexOf(flag) + 1] ?? ''
      throw new UsageError(
        `the value of ${flag} starts with a dash (${JSON.stringify(value)}): write ${flag}=${value}`,
      )
    }
    throw new UsageError(errorMessage(err).replace(/\. To specify.*$/s, ''))
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv)
  } catch (err) {
    return report(err)
  }
}

async function run(argv: string[]): Promise<number> {
  const name = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined
  const command = name ? commands[name] : undefined
  if (name && name !== 'help' && !command) throw unknownCommand(name)
  if (command?.rawArgs && !argv.slice(1).some((a) => a === '--help' || a === '-h'))
    return command.run({ ...context(loadAll({ flags: {} })), args: argv.slice(1), flags: {}, booleans: {} })
  const parsed = parse(argv, command)
  const [, ...rest] = parsed.positionals
  if (parsed.values.version) {
    process.stdout.write(`tickflow ${version()}\n`)
    return 0
  }
  if (name === 'help') {
    const topic = rest[0]
    if (topic && !commands[topic]) throw unknownCommand(topic)
    process.stdout.write(`${topic ? commandHelp(topic, commands[topic]!) : generalHelp(commands)}\n`)
    return 0
  }
  if (!command || !name || parsed.values.help) {
    process.stdout.write(`${command && name ? commandHelp(name, command) : generalHelp(commands)}\n`)
    return command || parsed.values.help ? 0 : 2
  }
  const flags: Record<string, string | undefined> = {}
  const booleans: Record<string, boolean | undefined> = {}
  for (const [k, v] of Object.entries(parsed.values))
    if (typeof v === 'string') flags[k] = v
    else if (typeof v === 'boolean') booleans[k] = v
  return command.run({ ...context(loadAll({ flags })), args: rest, flags, booleans })
}

function context(loaded: LoadedConfig): Pick<CommandContext, 'config' | 'sourceSettings'> {
  return { config: loaded.config, sourceSettings: loaded.extra }
}

function debugging(): boolean {
  const i = process.argv.indexOf('--log-level')
  const level = i >= 0 ? process.argv[i + 1] : process.env.LOG_LEVEL
  return level === 'debug' || level === 'trace'
}

/** The one line for a failure (exit 2 for usage and configuration, 1 otherwise). */
export function report(thrown: unknown): number {
  // Any command's write can meet a full disk (a migration, an import, a purge's vacuum).
  const err =
    !(thrown instanceof TickflowError) && isDiskFull(thrown)
      ? new DiskFullError(
          `the disk holding the store is full (${errorMessage(thrown)}): free space on it, then run the command again`,
          { cause: thrown },
        )
      : thrown
  const known = err instanceof TickflowError
  const code = known ? err.code : 'TF_INTERNAL'
  const what = known ? err.message : `unexpected error: ${errorMessage(err)}`
  process.stderr.write(`tickflow: ${what.split('\n')[0]} [${code}]\n`)
  if (debugging() && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`)
  return known && (err.code === 'TF_CONFIG' || err.code === 'TF_USAGE') ? 2 : 1
}
