// Reading @platformatic/kafka's errors: the broker's own reason sits in ProtocolErrors (apiId and
// serverErrorMessage) nested inside the client's MultipleErrors, while the top message is only
// "Creating topics failed." or the like.
import { errorMessage } from '../errors.ts'

interface ProtocolLike {
  apiId?: unknown
  serverErrorMessage?: unknown
  errors?: unknown
  cause?: unknown
}

/** Broker error ids and messages found in the error tree, e.g. `INVALID_REPLICATION_FACTOR: …`. */
export function brokerReasons(err: unknown): string[] {
  const out = new Set<string>()
  const visit = (e: unknown, depth: number): void => {
    if (!e || typeof e !== 'object' || depth > 8) return
    const p = e as ProtocolLike
    if (typeof p.apiId === 'string') {
      const server =
        typeof p.serverErrorMessage === 'string' && p.serverErrorMessage ? p.serverErrorMessage : ''
      out.add(server ? `${p.apiId}: ${server}` : `${p.apiId}: ${errorMessage(e)}`)
    }
    if (Array.isArray(p.errors)) for (const x of p.errors) visit(x, depth + 1)
    visit(p.cause, depth + 1)
  }
  visit(err, 0)
  return [...out]
}

/** The broker's reason when it gave one, else the client's message; one line. */
export function brokerReason(err: unknown): string {
  const reasons = brokerReasons(err)
  return (reasons.length > 0 ? reasons.join('; ') : errorMessage(err)).replace(/\s*\n\s*/g, ' ')
}

// Produce errors about the messages themselves: retrying the same messages cannot succeed.
const REJECTIONS = ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE']

export function isMessageRejection(err: unknown): boolean {
  return brokerReasons(err).some((r) => REJECTIONS.some((id) => r.startsWith(`${id}:`)))
}
