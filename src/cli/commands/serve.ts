import type { Command } from '../command.ts'
import { LiveHub } from '../../api/live.ts'
import { startPoller } from '../../api/poller.ts'
import { errorMessage } from '../../errors.ts'
import { withRuntime } from '../runtime.ts'
import { startAlertWebhooks } from '../webhooks.ts'

export const serve: Command = {
  summary: 'API, dashboard and /metrics',
  async run(ctx) {
    return withRuntime(ctx.config, 'tickflow-serve', async (rt) => {
      rt.claimDataDir()
      const hub = new LiveHub()
      const { db } = await rt.serveThenOpen({ api: true, hub })
      if (!db) throw new Error('serve needs its database')
      const stopPolling = startPoller(db, hub, 500, (err) =>
        rt.log.warn({ err: errorMessage(err) }, 'live tail poll failed'),
      )
      rt.defer('live tail', stopPolling)
      startAlertWebhooks(rt, db, ctx.config)
      await rt.stopped
      return 0
    })
  },
}
