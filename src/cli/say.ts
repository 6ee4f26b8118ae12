// Lines for people on standard error, apart from the logs: the dashboard URL, progress, summaries.
export function say(line: string): void {
  process.stderr.write(`tickflow: ${line}\n`)
}
