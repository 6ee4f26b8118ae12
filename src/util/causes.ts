// An error and the errors it wraps (`cause`), outermost first: the chain a failure's real reason
// (a SQLSTATE, an errno) hides in. At most `max` deep, so a cycle ends.
export function* causes(err: unknown, max = 8): Generator<unknown> {
  for (let e: unknown = err, depth = 0; e && depth < max; depth++) {
    yield e
    e = (e as { cause?: unknown }).cause
  }
}
