// "Did you mean": the closest known name by edit distance, when it is close enough to be a typo.
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]!
}

export function suggest(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const k of known) {
    const d = distance(word, k)
    if (d < bestD) [best, bestD] = [k, d]
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined
}
