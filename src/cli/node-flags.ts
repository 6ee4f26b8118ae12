import v8 from 'node:v8'

// V8 heap limits for the processor: without them V8 lets the heap of a busy consumer grow to
// ~470 MB RSS before collecting; with them the processor peaks near 240 MB at the same throughput
// (bench/results). The ./tickflow launcher passes the same flags (a test keeps the two equal).
export const PROCESSOR_NODE_FLAGS = ['--max-old-space-size=192', '--max-semi-space-size=8']

/**
 * The processor's old generation grows by 75 % between full collections. With V8's own factor a
 * drain ran a full collection about every 200 ms (32-34 per 300,000 trades; 1.7-2.2 s of garbage
 * collection in all): a batch outlives several young collections, so what it allocated dies in the
 * old generation. With this, 15-18 full collections and 1.3-3 s less CPU per 300,000 trades, for
 * 30-40 MiB more peak RSS (docs/benchmarks.md, "Tenth pass"). Set from inside the process: Node
 * refuses the flag in NODE_OPTIONS, which is how a container passes flags.
 */
export const PROCESSOR_V8_FLAGS = ['--heap-growing-percent=75']

/** Applies PROCESSOR_V8_FLAGS to this process's V8 (before the processor allocates much). */
export function useProcessorHeap(): void {
  for (const flag of PROCESSOR_V8_FLAGS) v8.setFlagsFromString(flag)
}

/**
 * The long-running commands that may hold the embedded store (PGlite in the process; migrate and
 * purge open it too, briefly) run with the processor's young generation: V8's default let the
 * main thread's heap commit about 225 MiB for 60-80 MiB live during a replay. With PGlite's
 * shared_buffers at 32 MB, `tickflow up` for 20 s peaked at 293-299 MiB with the flag against
 * 425-435 without (docs/benchmarks.md, "Eighth pass").
 */
export const EMBEDDED_NODE_FLAGS = ['--max-semi-space-size=8']
export const EMBEDDED_COMMANDS = ['up', 'replay', 'serve', 'sql']

/** The Node flags ./tickflow starts a command with. */
export function nodeFlagsFor(command: string | undefined): string[] {
  if (command === 'process') return PROCESSOR_NODE_FLAGS
  return command !== undefined && EMBEDDED_COMMANDS.includes(command) ? EMBEDDED_NODE_FLAGS : []
}

/**
 * The environment ./tickflow adds for the processor: glibc's malloc keeps at most two arenas
 * (instead of up to eight per core, one per thread that allocates), so the Kafka client's and
 * node-postgres's buffers reuse freed memory rather than touch new pages. Draining and ingesting
 * 1,000,000 trades it peaked 5-20 MiB lower, at the same rate (docs/benchmarks.md, the eighteenth
 * pass). A value the user set is kept. glibc reads it when the process starts, so it cannot be set
 * from inside.
 */
export const PROCESSOR_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' }

/** The environment ./tickflow adds for a command (what the user set wins). */
export function envFor(command: string | undefined): Record<string, string> {
  return command === 'process' ? { ...PROCESSOR_ENV } : {}
}
