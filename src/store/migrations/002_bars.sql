-- OHLCV + VWAP bars by event time, kept in the same transaction as the ticks they summarise.
-- open/close carry the (ts, ingest_seq) of the trade they came from, so a late trade can replace
-- them exactly; volume and pv (Σ price·size) are exact sums, vwap = pv / volume.
create table bars (
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
  -- 'trades': aggregated from ticks; 'import': loaded as bars (e.g. a daily-bars file).
  origin    text        not null default 'trades',
  updated_at timestamptz not null default now(),
  primary key (symbol, interval, bucket)
);
create index bars_interval_bucket on bars (interval, bucket);

-- Trade ids seen per source: a second trade with the same (source, id) is a duplicate and goes to
-- the dead letters instead of being stored twice.
create table trade_ids (
  source   text not null,
  trade_id text not null,
  primary key (source, trade_id)
);

-- Bars settings (the daily bucket's time zone), fixed per database so every processor agrees.
create table settings (
  key   text primary key,
  value text not null
);
insert into settings (key, value) values ('bars_timezone', 'UTC');

-- The bucket start of `ts` for an interval; daily bars start at midnight in `tz`.
create function tickflow_bucket(iv text, ts timestamptz, tz text) returns timestamptz
language sql immutable parallel safe as $$
  select case iv
    -- in UTC explicitly: date_trunc on timestamptz would follow the session's TimeZone
    when '1s' then date_trunc('second', ts at time zone 'UTC') at time zone 'UTC'
    when '1m' then date_trunc('minute', ts at time zone 'UTC') at time zone 'UTC'
    when '5m' then date_bin('5 minutes', ts, timestamptz '2000-01-01 00:00:00+00')
    when '1h' then date_trunc('hour', ts at time zone 'UTC') at time zone 'UTC'
    when '1d' then date_trunc('day', ts at time zone tz) at time zone tz
  end
$$;
