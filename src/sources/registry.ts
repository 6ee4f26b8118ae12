// The source adapters tickflow knows, by name. Adding a provider is adding its file and a line here.
import type { SourceAdapter } from './types.ts'
import { simulator } from './simulator.ts'
import { replay } from './replay.ts'
import { providers } from './providers.ts'

export const sources: Record<string, SourceAdapter<never>> = {
  simulator: simulator as SourceAdapter<never>,
  replay: replay as SourceAdapter<never>,
  ...Object.fromEntries(providers.map((p) => [p.name, p])),
}
