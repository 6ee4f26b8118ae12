// Builds the compose stage's images (the stand-ins and the project's own) while the rest of the
// suite runs: scripts/test.ts starts it on a full run, and buildImages() in the compose tests waits
// for the outcome it writes to the file named by its argument ("ok", or why not), then builds again
// from the warm cache, so a failure here is reported there with the real build output.
import { writeFileSync } from 'node:fs'
import { buildImages } from './compose.ts'

const status = process.argv[2]
if (status === undefined) throw new Error('usage: prebuild-images.ts <status file>')
try {
  await buildImages()
  writeFileSync(status, 'ok\n')
} catch (err) {
  writeFileSync(status, `failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
