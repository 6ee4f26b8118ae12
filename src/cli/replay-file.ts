import { accessSync, constants, statSync } from 'node:fs'
import type { CommandContext } from './command.ts'
import { TickflowError, UsageError, errorMessage } from '../errors.ts'

/** The replay file, checked before anything starts (no migrations, no server for a missing file). */
export function replayFile(ctx: CommandContext): string {
  const file = ctx.args[0] ?? ctx.flags.file
  if (!file) throw new UsageError('replay needs a file: tickflow replay FILE')
  try {
    accessSync(file, constants.R_OK)
    if (statSync(file).isDirectory()) throw new Error('it is a directory')
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)
    throw new TickflowError('TF_FILE', `cannot read replay file ${JSON.stringify(file)}: ${why}`)
  }
  return file
}
