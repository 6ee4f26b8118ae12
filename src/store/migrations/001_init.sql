-- tickflow schema, version 1. Exact decimals (numeric) for prices and sizes; timestamps in UTC.

-- Every valid trade, exactly once. Partitioned by day on event time; partitions are created ahead
-- by tickflow_ensure_day_partition(), called by the processor for each day it is about to write.
create table ticks (
  symbol      text        not null,
  ts          timestamptz not null,
  price       numeric     not null,
  size        numeric     not null,
  source      text        not null,
  trade_id    text,
  -- Order of arrival within the symbol's partition of the topic (the Kafka offset): ties on ts are
  -- broken by it, so open/close are well defined.
  ingest_seq  bigint      not null,
  kafka_partition integer not null,
  recv_ts     timestamptz,
  stored_at   timestamptz not null default now()
) partition by range (ts);

create index ticks_symbol_ts on ticks (symbol, ts);

create function tickflow_ensure_day_partition(day date) returns void
language plpgsql as $$
declare
  name text := 'ticks_' || to_char(day, 'YYYYMMDD');
begin
  if to_regclass(name) is null then
    -- Two processors may race to create the same day: serialise on a lock keyed by the day.
    perform pg_advisory_xact_lock(hashtext(name));
    if to_regclass(name) is null then
      execute format('create table %I partition of ticks for values from (%L) to (%L)',
                     name, day::timestamptz at time zone 'UTC', (day + 1)::timestamptz at time zone 'UTC');
    end if;
  end if;
end $$;

-- Offsets the processor has stored, written in the same transaction as the rows they produced:
-- the source of truth for resuming (Kafka's committed group offsets only save re-reading).
create table consumer_offsets (
  group_id    text    not null,
  topic       text    not null,
  partition   integer not null,
  next_offset bigint  not null,
  updated_at  timestamptz not null default now(),
  primary key (group_id, topic, partition)
);

-- Messages that failed validation: the original bytes, why, and where they came from.
create table dead_letters (
  id          bigint generated always as identity primary key,
  received_at timestamptz not null default now(),
  reason      text        not null,
  detail      text,
  topic       text        not null,
  partition   integer     not null,
  "offset"    bigint      not null,
  key         text,
  payload     bytea       not null,
  unique (topic, partition, "offset")
);
create index dead_letters_reason on dead_letters (reason, received_at);
