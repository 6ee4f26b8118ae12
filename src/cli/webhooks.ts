// Alert webhooks are delivered by every process that has the database open (the outbox is shared:
// a due delivery is leased by one of them at a time).
import type { Db } from '../store/db.ts'
import { startWebhookDelivery } from '../api/webhooks.ts'
import { errorMessage } from '../errors.ts'
import type { Runtime } from './runtime.ts'
import type { Config } from '../config/schema.ts'

export function startAlertWebhooks(rt: Runtime, db: Db, config: Config): void {
  const delivery = startWebhookDelivery(db, {
    timeoutMs: config.alertWebhookTimeout,
    maxBackoffMs: config.alertWebhookMaxBackoff,
    metrics: rt.metrics,
    onError: (err) => rt.log.warn({ err: errorMessage(err) }, 'alert webhook delivery failed; retrying'),
    // The embedded store is held by this process alone: its outbox changes only from here.
    soleWriter: db.kind === 'pglite',
  })
  rt.wakeWebhooks = delivery.wake
  rt.defer('alert webhooks', () => {
    rt.wakeWebhooks = undefined
    return delivery.stop()
  })
}
