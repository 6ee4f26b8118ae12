// V8 compiles WebAssembly twice: first every function with its baseline compiler (Liftoff), then,
// in the background, each function that runs hot again with its optimising compiler (TurboFan).
// For PGlite that second compilation of one function, PostgreSQL's SQL parser (`raw_parser`,
// 105 kB of WebAssembly), takes about 575 MiB for 0.6-2.6 s in V8 13.6 (Node 24), and a few
// statements are enough to start it: it is most of `tickflow up`'s peak memory (docs/benchmarks.md,
// "Eighth pass"). Without optimisation the statements run slower: a bulk replay takes about 1.6
// times as long. Both flags are needed (either alone still optimises). V8's flags are process-wide
// and read when a module is compiled, so they are set before PGlite's module is.
import v8 from 'node:v8'

/** Node flags that keep WebAssembly at V8's baseline tier (also given to PGlite's initdb child). */
export const BASELINE_WASM_FLAGS = ['--no-wasm-tier-up', '--no-wasm-dynamic-tiering'] as const

/** From now on, this process compiles WebAssembly with V8's baseline compiler only. */
export function keepWasmAtBaseline(): void {
  for (const flag of BASELINE_WASM_FLAGS) v8.setFlagsFromString(flag)
}

/**
 * Whether V8 may optimise PGlite in this process, by TICKFLOW_EMBEDDED_OPTIMIZE: `on`, or `auto` in
 * a bulk load (a replay or the simulator at full speed, a daily-bars import).
 */
export function optimisesEmbedded(setting: 'auto' | 'on' | 'off', bulkLoad: boolean): boolean {
  return setting === 'on' || (setting === 'auto' && bulkLoad)
}
