-- The Spark Structured Streaming job's own tables (analytics/spark, docs/spark.md). spark_bars is
-- keyed like bars; the job writes each micro-batch in one transaction together with its row in
-- spark_batches, and skips a batch id it finds there, so a replayed micro-batch changes nothing.
create table if not exists spark_bars (
  symbol    text        not null,
  interval  text        not null check (interval in ('1s', '1m', '5m', '1h', '1d')),
  bucket    timestamptz not null,
  open      numeric     not null,
  high      numeric     not null,
  low       numeric     not null,
  close     numeric     not null,
  volume    numeric     not null,
  pv        numeric     not null,
  vwap      numeric,
  trades    bigint      not null,
  open_ts   timestamptz not null,
  open_seq  bigint      not null,
  close_ts  timestamptz not null,
  close_seq bigint      not null,
  batch_id  bigint      not null,
  updated_at timestamptz not null default now(),
  primary key (symbol, interval, bucket)
);
create index if not exists spark_bars_interval_bucket on spark_bars (interval, bucket);

-- One row per committed micro-batch of each query. query_id is Spark's id of the query, kept in
-- its checkpoint: a new checkpoint starts again at batch 0 without colliding with the old one.
-- out_of_range: bars whose exact sums left decimal(38,17) in this batch (not written, never rounded).
create table if not exists spark_batches (
  query        text        not null,
  query_id     text        not null,
  batch_id     bigint      not null,
  rows         bigint      not null,
  out_of_range bigint      not null default 0,
  committed_at timestamptz not null default now(),
  primary key (query_id, batch_id)
);

-- Messages the job could not use, with the validator's reasons (and decimal_range: a price or
-- size outside the decimals Spark multiplies exactly). Keyed by their Kafka position: a replay
-- writes nothing twice.
create table if not exists spark_dead_letters (
  topic       text        not null,
  partition   integer     not null,
  "offset"    bigint      not null,
  reason      text        not null,
  detail      text        not null,
  key         text        not null,
  payload     bytea,
  batch_id    bigint      not null,
  received_at timestamptz not null default now(),
  primary key (topic, partition, "offset")
);

-- Realized volatility per window of the Spark job's bars: sqrt(Σ r²) over the log returns r between
-- consecutive 1-second closes of a symbol, each return counted in the window of its later bar.
-- (Computed here from spark_bars: a streaming aggregation cannot order a window's trades.)
create or replace view spark_realized_volatility as
select s.symbol, iv.interval, tickflow_bucket(iv.interval, s.bucket, 'UTC') as bucket,
       sqrt(sum(s.r * s.r)) as realized_volatility, count(*) as returns
from (select symbol, bucket, ln(close / lag(close) over (partition by symbol order by bucket)) as r
      from spark_bars where interval = '1s') s
cross join (values ('1m'), ('5m'), ('1h'), ('1d')) as iv(interval)
where s.r is not null
group by 1, 2, 3;
