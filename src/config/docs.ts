// Renders docs/configuration.md and the sources' part of .env.example from settings; the command
// line (src/cli/config-docs.ts, npm run docs:config) passes the table joined with the sources'
// declarations, and a test fails when a written file differs from what this renders.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Setting } from './schema.ts'

const root = join(import.meta.dirname, '../..')
export const configDocsPath = join(root, 'docs/configuration.md')
export const envExamplePath = join(root, '.env.example')

/** A source as the docs list it: its name, one line, and its settings. */
export interface SourceDoc {
  name: string
  summary: string
  settings: readonly Setting[]
}

function defaultOf(s: Setting): string {
  const parsed = s.schema.safeParse(undefined)
  if (!parsed.success || parsed.data === undefined) return 'unset'
  const v: unknown = parsed.data
  return `\`${Array.isArray(v) ? v.join(',') : JSON.stringify(v).replace(/^"|"$/g, '')}\``
}

const cell = (s: string): string => s.replace(/\|/g, '\\|')

export function renderConfigDocs(settings: readonly Setting[], sources: readonly SourceDoc[]): string {
  const rows = settings.map(
    (s) =>
      `| \`${s.key}\` | ${s.flag ? `\`--${s.flag}\`` : '—'} | ${s.env ? `\`${s.env}\`` : '—'} | ${defaultOf(s)} | ${cell(s.help)}${s.secret ? ' (secret: never shown)' : ''} |`,
  )
  const sourceRows = sources.map(
    (x) =>
      `| \`${x.name}\` | ${cell(x.summary)} | ${x.settings.map((s) => (s.env ? `\`${s.env}\`` : `\`--${s.flag}\``)).join(', ') || '—'} |`,
  )
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/schema.ts and the source files in src/sources/ by `npm run docs:config`; edit those, not this file. -->',
    '',
    'tickflow reads its configuration once at start, in this order: command-line flag, environment',
    'variable, `.env` file in the working directory, default. A value that fails validation stops the',
    'process with exit code 2 and one line naming the flag or variable, such as',
    '',
    '    tickflow: invalid HTTP_PORT: "70000" Too big: expected number to be <=65535 [TF_CONFIG]',
    '',
    'Secret settings are never echoed, in that line or in logs. Options of one command (e.g. the',
    "replay's `--format`) are listed by `tickflow COMMAND --help`.",
    '',
    '| setting | flag | variable | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '## Sources',
    '',
    '`--source` (`TICKFLOW_SOURCE`) picks one of these. Each source declares its own settings in its',
    'file under src/sources/ (the `<source>.<option>` rows above); a required one that is unset stops',
    'the start with one line naming the variable, and `tickflow doctor` checks the selected source.',
    '',
    '| source | what | settings |',
    '| --- | --- | --- |',
    ...sourceRows,
    '',
  ].join('\n')
}

export const envSectionMarker =
  '# --- sources (written from src/sources/ by npm run docs:config; edit the source files, not this part) ---'

/** .env.example with its sources' part (from the marker to the end) written from the declarations. */
export function renderEnvExample(current: string, sources: readonly SourceDoc[]): string {
  const at = current.indexOf(envSectionMarker)
  const head = at < 0 ? `${current.trimEnd()}\n\n` : current.slice(0, at)
  const blocks = sources
    .filter((x) => x.settings.some((s) => s.env))
    .map((x) =>
      [`# ${x.name}: ${x.summary}`, ...x.settings.filter((s) => s.env).map((s) => `${s.env}=`)].join('\n'),
    )
  return `${head}${envSectionMarker}\n${blocks.join('\n\n')}\n`
}

/** Markdown as prettier formats it (the repository's Markdown is prettier-formatted). */
export async function formatMarkdown(text: string): Promise<string> {
  const prettier = await import('prettier')
  const options = JSON.parse(readFileSync(join(root, '.prettierrc.json'), 'utf8')) as Record<string, unknown>
  return prettier.format(text, { ...options, parser: 'markdown' })
}
