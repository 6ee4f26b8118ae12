// What the provider adapters share besides their transport: the window of recent trade keys and
// secrets kept out of messages.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RecentKeys, redact } from '../../src/sources/provider.ts'

test('recent keys remember a bounded window; secrets are redacted', () => {
  const k = new RecentKeys(3)
  assert.deepEqual(
    ['a', 'b', 'a', 'c', 'd', 'a'].map((x) => k.add(x)),
    [true, true, false, true, true, true],
  )
  assert.equal(redact('wss://x?token=abc&t=abc', ['abc']), 'wss://x?token=***&t=***')
})
