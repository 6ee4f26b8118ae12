// CSV export with constant memory: rows are read page by page by keyset and written as the client
// reads, so a million-row export holds one page at a time. Readable.from pulls the next page only
// when the socket has drained the previous one.
import { Readable } from 'node:stream'
import { stringify } from 'csv-stringify/sync'
import { escapeLiteral } from 'pg'
import type { FastifyReply } from 'fastify'
import type { Db } from '../store/db.ts'
import type { Statement } from './queries.ts'

export const CSV_PAGE = 2000

/** format=csv wins; otherwise an Accept header that names text/csv asks for CSV. */
export function wantsCsv(format: string | undefined, accept: string | undefined): boolean {
  if (format !== undefined) return format === 'csv'
  return accept !== undefined && /(^|,)\s*text\/csv\b/i.test(accept)
}

function attachment(reply: FastifyReply, name: string): FastifyReply {
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}.csv"`)
}

/**
 * On PostgreSQL the export is one COPY (…) TO STDOUT: the server writes the CSV and its bytes pass
 * straight to the client, no rows are built here. COPY takes no bind parameters, so the statement's
 * values are written in as literals; they are the symbol, times and integers the handlers have
 * already validated, quoted by node-postgres's escapeLiteral.
 */
export async function sendCopy(
  reply: FastifyReply,
  name: string,
  db: Db,
  stmt: Statement,
): Promise<FastifyReply> {
  const sql = stmt.text.replace(/\$(\d+)/g, (_, n: string) =>
    escapeLiteral(String(stmt.values[Number(n) - 1])),
  )
  const stream = await db.copyOut!(`copy (${sql}) to stdout with (format csv, header true)`)
  return attachment(reply, name).send(stream)
}

/**
 * Streams every row `page(after)` yields, page after page (each page continues after the previous
 * page's last row), up to `limit` rows in all.
 */
export function sendCsv<R extends object>(
  reply: FastifyReply,
  name: string,
  columns: (keyof R & string)[],
  page: (after: R | undefined, size: number) => Promise<R[]>,
  options: { limit?: number; pageSize?: number } = {},
): FastifyReply {
  const pageSize = options.pageSize ?? CSV_PAGE
  async function* lines(): AsyncGenerator<string> {
    yield stringify([columns])
    let after: R | undefined
    let left = options.limit ?? Number.MAX_SAFE_INTEGER
    while (left > 0) {
      const size = Math.min(pageSize, left)
      const rows = await page(after, size)
      if (rows.length > 0) yield stringify(rows, { columns })
      if (rows.length < size) return
      left -= rows.length
      after = rows.at(-1)
    }
  }
  return attachment(reply, name).send(Readable.from(lines(), { objectMode: false }))
}
