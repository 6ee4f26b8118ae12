// uniqueOffsets keeps each (topic, partition, offset) once, the first occurrence, in batch order;
// checked against the plain definition on random batches (repeats, offsets going back, several
// partitions and topics interleaved) and on the cases a consumer produces.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { uniqueOffsets } from '../../src/processor/plan.ts'
import type { BatchItem } from '../../src/domain/types.ts'

const item = (topic: string, partition: number, offset: number): BatchItem => ({
  topic,
  partition,
  offset: BigInt(offset),
})

/** The definition: a key set over every item. */
function reference(items: BatchItem[]): BatchItem[] {
  const seen = new Set<string>()
  return items.filter((i) => {
    const k = `${i.topic}\0${i.partition}\0${i.offset}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

test('a re-fetched run, offsets going back without repeating, and two topics on one partition number', () => {
  const batch = [
    item('a', 0, 10),
    item('a', 0, 11),
    item('a', 1, 5),
    item('a', 0, 10), // re-fetched after a rebalance
    item('a', 0, 11),
    item('a', 0, 12),
    item('a', 1, 3), // below the partition's highest, but new
    item('b', 0, 10), // another topic: not a repeat
    item('a', 1, 5),
  ]
  assert.deepEqual(
    uniqueOffsets(batch).map((i) => `${i.topic}/${i.partition}/${i.offset}`),
    ['a/0/10', 'a/0/11', 'a/1/5', 'a/0/12', 'a/1/3', 'b/0/10'],
  )
})

test('a batch without repeats is returned as it is', () => {
  const batch = [item('a', 0, 1), item('a', 0, 2), item('a', 2, 0), item('a', 0, 3)]
  assert.equal(uniqueOffsets(batch), batch)
})

test('equals the definition on random batches', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          topic: fc.constantFrom('a', 'b'),
          partition: fc.integer({ min: 0, max: 2 }),
          offset: fc.integer({ min: 0, max: 12 }),
        }),
        { maxLength: 60 },
      ),
      (spec) => {
        const batch = spec.map((s) => item(s.topic, s.partition, s.offset))
        const got = uniqueOffsets(batch)
        const want = reference(batch)
        assert.equal(got.length, want.length)
        // the same items (first occurrences), in the same order
        got.forEach((g, n) => assert.equal(g, want[n]))
      },
    ),
    { numRuns: 2000 },
  )
})
