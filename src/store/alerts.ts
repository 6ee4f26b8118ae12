// Alert rules, firings and the webhook outbox in PostgreSQL (migration 008). The processor reads
// the rules and the history they need inside each batch's transaction, and writes the batch's
// firings there too, keyed by (rule, trade): a replayed batch cannot store a firing twice.
import type {
  AlertFiring,
  AlertHistory,
  AlertKind,
  AlertRule,
  AlertSpec,
  HistoryBar,
  HistoryNeed,
  HistoryTrade,
} from '../domain/alerts.ts'
import { CloseSeries } from '../domain/close-series.ts'
import { prepared, type Queryable } from './db.ts'

interface RuleRow {
  id: string
  name: string | null
  kind: AlertRule['kind']
  symbols: string[]
  direction: AlertRule['direction']
  params: AlertSpec['params']
  webhook_url: string | null
  created_at: string
}

export type StoredRule = AlertRule & { createdAt: string }

const RULE_COLUMNS = `id::text as id, name, kind, symbols, direction, params, webhook_url,
  to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at`

function toRule(r: RuleRow): StoredRule {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    params: r.params,
    symbols: r.symbols,
    direction: r.direction,
    webhookUrl: r.webhook_url,
    createdAt: r.created_at,
  } as StoredRule
}

/** Read for every batch (the rules in force). */
const LIST_RULES = prepared(`select ${RULE_COLUMNS} from alert_rules order by id`)

export async function listRules(db: Queryable): Promise<StoredRule[]> {
  const rows = await db.query<RuleRow>(LIST_RULES)
  return rows.map(toRule)
}

export async function createRule(db: Queryable, rule: Omit<AlertRule, 'id'>): Promise<StoredRule> {
  const [row] = await db.query<RuleRow>(
    `insert into alert_rules (name, kind, symbols, direction, params, webhook_url)
     values ($1, $2, $3::text[], $4, $5::jsonb, $6) returning ${RULE_COLUMNS}`,
    [rule.name, rule.kind, rule.symbols, rule.direction, JSON.stringify(rule.params), rule.webhookUrl],
  )
  return toRule(row!)
}

/** True when the rule existed; its firings and their pending deliveries go with it. */
export async function deleteRule(db: Queryable, id: string): Promise<boolean> {
  const rows = await db.query('delete from alert_rules where id = $1::bigint returning id', [id])
  return rows.length > 0
}

const MICROS = `timestamptz 'epoch' + n.lo * interval '1 microsecond'`

/** The trades and bars `needs` ask for, as stored before the batch (inside its transaction). */
export async function readHistory(tx: Queryable, needs: HistoryNeed[]): Promise<AlertHistory> {
  const history: AlertHistory = { trades: new Map(), bars: new Map(), series: await readSeries(tx, needs) }
  const withTrades = needs.filter((n) => n.trades)
  if (withTrades.length > 0) {
    const rows = await tx.query<{ symbol: string; micros: string; seq: string; price: string }>(
      `with n as (select * from unnest($1::text[], $2::bigint[], $3::bigint[]) as n(symbol, lo, hi))
       select n.symbol, (extract(epoch from x.ts) * 1000000)::bigint::text as micros, x.ingest_seq::text as seq,
              x.price::text as price
         from n cross join lateral (
           (select ts, ingest_seq, price from ticks t
             where t.symbol = n.symbol and t.ts >= ${MICROS}
               and t.ts <= timestamptz 'epoch' + n.hi * interval '1 microsecond')
           union all
           (select ts, ingest_seq, price from ticks t
             where t.symbol = n.symbol and t.ts < ${MICROS}
             order by ts desc, ingest_seq desc limit 1)) x
        order by n.symbol, x.ts, x.ingest_seq`,
      [
        withTrades.map((n) => n.symbol),
        withTrades.map((n) => String(n.trades!.from)),
        withTrades.map((n) => String(n.trades!.to)),
      ],
    )
    for (const n of withTrades) history.trades.set(n.symbol, [])
    for (const r of rows) {
      const t: HistoryTrade = { micros: Number(r.micros), seq: BigInt(r.seq), price: r.price }
      history.trades.get(r.symbol)!.push(t)
    }
  }
  const bars = needs.flatMap((n) => n.bars.map((b) => ({ symbol: n.symbol, ...b })))
  if (bars.length > 0) {
    const rows = await tx.query<BarRow>(
      `with n as (select * from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[]) as n(symbol, iv, lo, hi, before))
       select n.symbol, n.iv as interval, (extract(epoch from x.bucket) * 1000)::bigint::text as bucket,
              x.volume::text as volume, x.close::text as close,
              (extract(epoch from x.close_ts) * 1000000)::bigint::text as close_micros, x.close_seq::text as close_seq
         from n cross join lateral (
           (select bucket, volume, close, close_ts, close_seq from bars b
             where b.symbol = n.symbol and b.interval = n.iv and b.origin = 'trades'
               and b.bucket >= to_timestamp(n.lo / 1000.0) and b.bucket <= to_timestamp(n.hi / 1000.0))
           union all
           (select bucket, volume, close, close_ts, close_seq from bars b
             where b.symbol = n.symbol and b.interval = n.iv and b.origin = 'trades'
               and b.bucket < to_timestamp(n.lo / 1000.0)
             order by bucket desc limit n.before)) x
        order by n.symbol, n.iv, x.bucket`,
      [
        bars.map((b) => b.symbol),
        bars.map((b) => b.interval),
        bars.map((b) => String(b.from)),
        bars.map((b) => String(b.to)),
        bars.map((b) => b.before),
      ],
    )
    for (const b of bars) history.bars.set(`${b.symbol}\0${b.interval}`, [])
    for (const r of rows) history.bars.get(`${r.symbol}\0${r.interval}`)!.push(toBar(r))
  }
  return history
}

/** A firing as stored, with its rule's kind (the metrics count firings by kind). */
export type StoredAlertFiring = AlertFiring & { kind: AlertKind }

interface BarRow {
  symbol: string
  interval: string
  bucket: string
  volume: string
  close: string
  close_micros: string
  close_seq: string
}

const toBar = (r: BarRow): HistoryBar => ({
  bucket: Number(r.bucket),
  volume: r.volume,
  close: r.close,
  closeMicros: Number(r.close_micros),
  closeSeq: BigInt(r.close_seq),
})

/** The whole stored series of each (symbol, interval) in `needs.series`, by bucket. */
async function readSeries(tx: Queryable, needs: HistoryNeed[]): Promise<Map<string, CloseSeries>> {
  const keys = needs.flatMap((n) => (n.series ?? []).map((s) => ({ symbol: n.symbol, interval: s.interval })))
  const out = new Map<string, CloseSeries>()
  if (keys.length === 0) return out
  const rows = await tx.query<BarRow>(
    `select n.symbol, n.iv as interval, (extract(epoch from b.bucket) * 1000)::bigint::text as bucket,
            b.volume::text as volume, b.close::text as close,
            (extract(epoch from b.close_ts) * 1000000)::bigint::text as close_micros, b.close_seq::text as close_seq
       from unnest($1::text[], $2::text[]) as n(symbol, iv)
       join bars b on b.symbol = n.symbol and b.interval = n.iv and b.origin = 'trades'
      order by n.symbol, n.iv, b.bucket`,
    [keys.map((k) => k.symbol), keys.map((k) => k.interval)],
  )
  const bars = new Map<string, HistoryBar[]>(keys.map((k) => [`${k.symbol}\0${k.interval}`, []]))
  for (const r of rows) bars.get(`${r.symbol}\0${r.interval}`)!.push(toBar(r))
  for (const [key, list] of bars) out.set(key, new CloseSeries(list))
  return out
}

/**
 * Stores a batch's firings (each (rule, event) once) and queues the webhook deliveries of those
 * newly stored; returns the newly stored ones. A rule deleted while the batch was evaluated has
 * no firing stored.
 */
export async function insertFirings(tx: Queryable, firings: AlertFiring[]): Promise<StoredAlertFiring[]> {
  if (firings.length === 0) return []
  const rows = await tx.query<{ id: string; kind: AlertKind }>(
    `insert into alert_firings (id, rule_id, event, symbol, ts, price, value)
     select u.id, u.rule_id, u.event, u.symbol, u.ts, u.price, u.value
       from unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::numeric[], $7::text[])
            as u(id, rule_id, event, symbol, ts, price, value)
      where exists (select 1 from alert_rules r where r.id = u.rule_id)
     on conflict do nothing
     returning id, (select r.kind from alert_rules r where r.id = rule_id) as kind`,
    [
      firings.map((f) => f.id),
      firings.map((f) => f.ruleId),
      firings.map((f) => f.event),
      firings.map((f) => f.symbol),
      firings.map((f) => f.ts),
      firings.map((f) => f.price),
      firings.map((f) => f.value),
    ],
  )
  const inserted = new Map(rows.map((r) => [r.id, r.kind]))
  const stored = firings.filter((f) => inserted.has(f.id)).map((f) => ({ ...f, kind: inserted.get(f.id)! }))
  const hooked = stored.filter((f) => f.webhookUrl)
  if (hooked.length > 0)
    await tx.query(
      `insert into alert_deliveries (firing_id, url) select * from unnest($1::text[], $2::text[])
       on conflict do nothing`,
      [hooked.map((f) => f.id), hooked.map((f) => f.webhookUrl)],
    )
  return stored
}

export interface StoredFiring {
  id: string
  ruleId: string
  event: string
  symbol: string
  ts: string
  price: string
  value: string
  firedAt: string
}

/** Firings, newest first (by event time, then id). */
export async function listFirings(
  db: Queryable,
  o: { rule?: string; symbol?: string; limit: number },
): Promise<StoredFiring[]> {
  return db.query<StoredFiring>(
    `select id, rule_id::text as "ruleId", event, symbol,
            to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts, price::text as price, value,
            to_char(fired_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "firedAt"
       from alert_firings
      where ($1::bigint is null or rule_id = $1::bigint) and ($2::text is null or symbol = $2)
      order by ts desc, id limit $3`,
    [o.rule ?? null, o.symbol ?? null, o.limit],
  )
}
