// Run as a child process by pglite-seed.ts: initialises an empty PGlite cluster in the directory
// given, then closes it cleanly so it can be copied.
import { PGlite } from '@electric-sql/pglite'

const dir = process.argv[2]
if (!dir) throw new Error('usage: pglite-init.ts <directory>')
const db = await PGlite.create({ dataDir: dir })
await db.close()
