// Dead letters to the DLQ topic. Every request fits the topic's max.message.bytes: dead letters are
// split over as many requests as needed, and one whose payload alone would not fit is published
// cut, with its original size, SHA-256 and reason in headers, so a poison message too large for the
// DLQ can never make the batch that holds it fail for ever.
import { createHash } from 'node:crypto'
import type { OutMessage } from '../bus/types.ts'
import type { DeadLetter } from '../domain/types.ts'

/** Kafka's default max.message.bytes, used when the topic's own cannot be read. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
/** Room kept in every request for the record batch's and records' framing. */
const FRAMING = 1024
const PER_RECORD = 64

function recordSize(m: OutMessage): number {
  let n =
    PER_RECORD +
    Buffer.byteLength(m.key) +
    (typeof m.value === 'string' ? Buffer.byteLength(m.value) : m.value.length)
  for (const [k, v] of Object.entries(m.headers ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v) + 8
  return n
}

export function deadLetterMessage(d: DeadLetter, maxMessageBytes: number): OutMessage {
  const headers: Record<string, string> = {
    reason: d.reason,
    detail: d.detail.slice(0, 500),
    'source-topic': d.topic,
    'source-partition': String(d.partition),
    'source-offset': String(d.offset),
  }
  const message: OutMessage = { key: d.key.slice(0, 200), value: d.payload, headers }
  const budget = maxMessageBytes - FRAMING
  if (recordSize(message) <= budget) return message
  headers.truncated = 'true'
  headers['original-size'] = String(d.payload.length)
  headers.sha256 = createHash('sha256').update(d.payload).digest('hex')
  const room = Math.max(0, budget - recordSize({ ...message, value: Buffer.alloc(0) }))
  return { ...message, value: d.payload.subarray(0, room) }
}

/** The dead letters as DLQ messages, grouped into requests that each fit `maxMessageBytes`. */
export function deadLetterRequests(dead: DeadLetter[], maxMessageBytes: number): OutMessage[][] {
  const budget = maxMessageBytes - FRAMING
  const requests: OutMessage[][] = []
  let current: OutMessage[] = []
  let size = 0
  for (const d of dead) {
    const m = deadLetterMessage(d, maxMessageBytes)
    const n = recordSize(m)
    if (current.length > 0 && size + n > budget) {
      requests.push(current)
      current = []
      size = 0
    }
    current.push(m)
    size += n
  }
  if (current.length > 0) requests.push(current)
  return requests
}
