// The planner's statistics of an embedded store. On a PostgreSQL server autovacuum analyses a
// table once 50 rows plus 10 % of it have changed, looking every minute; PGlite runs no autovacuum,
// so an embedded store was never analysed and planned every query as if its tables were empty. A
// page of trades (a keyset query with `limit`) then read and sorted every row of the range: about
// 450 ms a page at 600,000 trades, and a CSV export of them took 214 s; analysed, about 35 ms a
// page and 11.5 s.
// This does autovacuum's work for the embedded store, with its thresholds.
import type { Db } from './db.ts'

/** The tables the API's and the processor's plans depend on (ticks with its partitions). */
const TABLES = 'ticks, trade_ids, bars'
/** autovacuum_analyze_threshold and autovacuum_analyze_scale_factor's defaults. */
const THRESHOLD_ROWS = 50
const SCALE = 0.1
/** autovacuum_naptime's default: at most one analysis a minute while rows arrive. */
const MIN_INTERVAL_MS = 60_000

export interface StatisticsOptions {
  /** Analyse while rows arrive (false: a bulk load, analysed once at its end by settle()). */
  periodic?: boolean
  /** Time between two analyses while rows arrive (tests shorten it). */
  minIntervalMs?: number
  onAnalysed?: (rows: number, ms: number) => void
  onError?: (err: unknown) => void
}

export class EmbeddedStatistics {
  readonly #db: Db
  readonly #o: StatisticsOptions
  /** Rows the tables held at the last analysis, as PostgreSQL counted them. */
  #base = 0
  /** Rows stored since. */
  #pending = 0
  #lastAt = 0
  #running: Promise<void> | undefined

  constructor(db: Db, options: StatisticsOptions = {}) {
    this.#db = db
    this.#o = options
  }

  /**
   * At open: a store whose tables hold rows but were never analysed (stores made before this, or
   * whose last run stopped before its analysis) is analysed now, before anything queries it.
   * Returns whether it was.
   */
  async open(): Promise<boolean> {
    const [row] = await this.#db.query<{ tuples: number }>(
      "select reltuples::float8 as tuples from pg_class where relname = 'trade_ids'",
    )
    const tuples = Number(row?.tuples ?? -1)
    if (tuples >= 0) {
      this.#base = tuples
      return false
    }
    const [held] = await this.#db.query<{ any: boolean }>('select exists (select 1 from trade_ids) as any')
    if (!held?.any) return false
    await this.#analyse()
    return true
  }

  /** `n` rows were stored: analyses in the background once enough have changed since the last. */
  stored(n: number): void {
    this.#pending += n
    if (
      this.#o.periodic !== false &&
      this.#due() &&
      Date.now() - this.#lastAt >= (this.#o.minIntervalMs ?? MIN_INTERVAL_MS)
    )
      void this.#run()
  }

  /** The end of a load: analyses now if enough has changed, whenever the last analysis was. */
  async settle(): Promise<void> {
    await this.#running
    if (this.#due()) await this.#run()
  }

  #due(): boolean {
    return this.#pending > THRESHOLD_ROWS + SCALE * this.#base
  }

  #run(): Promise<void> {
    this.#running ??= this.#analyse()
      .catch((err: unknown) => this.#o.onError?.(err))
      .finally(() => (this.#running = undefined))
    return this.#running
  }

  async #analyse(): Promise<void> {
    const started = performance.now()
    this.#pending = 0
    await this.#db.exec(`analyze ${TABLES}`)
    const [row] = await this.#db.query<{ tuples: number }>(
      "select reltuples::float8 as tuples from pg_class where relname = 'trade_ids'",
    )
    this.#base = Math.max(0, Number(row?.tuples ?? 0))
    this.#lastAt = Date.now()
    this.#o.onAnalysed?.(this.#base, performance.now() - started)
  }
}
