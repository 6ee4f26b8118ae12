// The separator of a delimited text file, told from its first line. Exports from spreadsheets and
// databases are not all comma-separated: tabs (TSV), semicolons (where the comma is the decimal
// mark) and pipes are common, and read as CSV such a header is one long column name.

export type Delimiter = ',' | '\t' | ';' | '|'

const CANDIDATES: readonly Delimiter[] = [',', '\t', ';', '|']

/** The candidate that splits the line (outside double quotes) the most times; a comma on a tie. */
export function delimiterOf(firstLine: string): Delimiter {
  const outside = firstLine.replace(/"[^"]*"/g, '')
  let best: Delimiter = ','
  let most = 0
  for (const d of CANDIDATES) {
    const n = outside.split(d).length - 1
    if (n > most) [best, most] = [d, n]
  }
  return best
}
