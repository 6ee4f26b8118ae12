// A provider that exists only in this file: the registry test registers it next to the real ones
// and finds it in help, doctor, the configuration docs and .env.example without any other edit.
import { z } from 'zod'
import { booleanSetting, url } from '../../../src/config/schema.ts'
import type { Trade } from '../../../src/domain/trade.ts'
import type { SourceAdapter } from '../../../src/sources/types.ts'

const options = z.object({
  symbols: z.array(z.string()).min(1),
  token: z.string().min(1),
  baseUrl: z.string().url().default('https://tickerbox.invalid/feed'),
  price: z.string().default('1.00'),
  odd: z.boolean().default(false),
})

export const tickerbox: SourceAdapter<z.output<typeof options>> = {
  name: 'tickerbox',
  summary: 'Tickerbox test feed (token)',
  options,
  settings: {
    token: {
      env: 'TICKERBOX_TOKEN',
      secret: true,
      required: true,
      help: 'Tickerbox token',
      schema: z.string().min(1).optional(),
    },
    baseUrl: { env: 'TICKERBOX_URL', help: 'Tickerbox feed URL', schema: url.optional() },
    price: {
      env: 'TICKERBOX_PRICE',
      help: 'the price of every trade',
      schema: z
        .string()
        .regex(/^\d+\.\d\d$/, 'expected a price such as 1.00')
        .optional(),
    },
    odd: { env: 'TICKERBOX_ODD', help: 'odd lots only', schema: booleanSetting.optional() },
  },
  doctor: (values) =>
    typeof values.token === 'string'
      ? {
          status: 'ok',
          detail: `token of ${values.token.length} characters for ${typeof values.baseUrl === 'string' ? values.baseUrl : 'the default URL'}`,
        }
      : { status: 'FAIL', detail: 'TICKERBOX_TOKEN is not set' },
  create(o) {
    return {
      name: 'tickerbox',
      async *batches() {
        const trades: Trade[] = o.symbols.map((symbol, i) => ({
          v: 1,
          type: 'trade',
          symbol,
          ts: `2024-01-02T15:00:0${i}.000000Z`,
          price: o.price,
          size: o.odd ? '7' : '100',
          source: 'tickerbox',
        }))
        yield await Promise.resolve(trades)
      },
    }
  },
}
