import type { Command } from '../command.ts'
import { allSettings } from '../settings.ts'
import { UsageError } from '../../errors.ts'

function words(commands: Record<string, Command>): { commands: string[]; flags: Record<string, string[]> } {
  const common = allSettings.filter((s) => s.flag).map((s) => `--${s.flag}`)
  const flags: Record<string, string[]> = {}
  for (const [name, c] of Object.entries(commands))
    flags[name] = [...Object.keys(c.flags ?? {}).map((f) => `--${f}`), ...(c.rawArgs ? [] : common), '--help']
  return { commands: Object.keys(commands), flags }
}

function bash(commands: Record<string, Command>): string {
  const w = words(commands)
  const cases = Object.entries(w.flags)
    .map(([name, f]) => `    ${name}) opts="${f.join(' ')}" ;;`)
    .join('\n')
  return `# tickflow completion for bash: source <(tickflow completion bash)
_tickflow() {
  local cur=\${COMP_WORDS[COMP_CWORD]} opts
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${w.commands.join(' ')} help --help --version" -- "$cur"))
    return
  fi
  case \${COMP_WORDS[1]} in
${cases}
    *) opts="" ;;
  esac
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -F _tickflow tickflow
`
}

function zsh(commands: Record<string, Command>): string {
  return `#compdef tickflow
# tickflow completion for zsh: source <(tickflow completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(commands)}`
}

/** The completion command over the command table (given, so this file does not import the table). */
export const completionFor = (all: () => Record<string, Command>): Command => ({
  summary: 'print a shell completion script: tickflow completion bash|zsh',
  usage: 'bash|zsh',
  async run(ctx) {
    const shell = ctx.args[0]
    if (shell !== 'bash' && shell !== 'zsh')
      throw new UsageError(
        `completion needs a shell: tickflow completion bash|zsh${shell ? ` (not ${JSON.stringify(shell)})` : ''}`,
      )
    process.stdout.write(shell === 'bash' ? bash(all()) : zsh(all()))
    return Promise.resolve(0)
  },
})
