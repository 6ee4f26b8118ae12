// The shape of a command. Each command is one file in src/cli/commands/ and one entry in
// commands/index.ts; its own flags are declared next to it (help, completion and "did you mean"
// are derived from them), the common ones come from the configuration schema.
import type { Config } from '../config/schema.ts'

export interface FlagSpec {
  type: 'string' | 'boolean'
  short?: string
  /** Value placeholder in help, e.g. FILE. */
  value?: string
  help: string
}

export interface CommandContext {
  config: Config
  /** The values of the sources' own settings (sources/registry.ts), by `<source>.<option>`. */
  sourceSettings: Record<string, unknown>
  /** Positional arguments after the command name (or every argument with rawArgs). */
  args: string[]
  /** The command's own string flags and the setting flags given, by flag name. */
  flags: Record<string, string | undefined>
  booleans: Record<string, boolean | undefined>
}

export interface Command {
  summary: string
  /** e.g. 'FILE': shown in `tickflow replay --help`. */
  usage?: string
  /** Longer text for `tickflow COMMAND --help`. */
  description?: string
  flags?: Record<string, FlagSpec>
  /** The command checks its own flags: everything after its name reaches it unparsed in args. */
  rawArgs?: boolean
  run(ctx: CommandContext): Promise<number>
}
