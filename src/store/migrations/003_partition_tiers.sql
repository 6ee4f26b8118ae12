-- Partitions of ticks that hold decades of history (docs/storage.md). A day partition per event
-- day made one partition per distinct day replayed (4,500 days of history = 4,500 partitions) and
-- every query without a time range locked all of them. Now a partition covers a calendar month for
-- the current year and the next 12 months (live data: 12 a year), and a calendar year otherwise
-- (history, far future). Partitions never overlap: a new one is clipped to the gap between its
-- neighbours, so day partitions of older stores keep working until they are merged
-- (tickflow_merge_ticks_partitions, run by the migration code in chunks).

-- Every partition of ticks with its bounds.
create function tickflow_ticks_partitions()
returns table (name text, lo timestamptz, hi timestamptz)
language sql stable as $$
  select c.relname::text, b[1]::timestamptz, b[2]::timestamptz
  from pg_inherits i
  join pg_class c on c.oid = i.inhrelid
  cross join lateral regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                  'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') as b
  where i.inhparent = 'ticks'::regclass
$$;

-- The size of the partition a day gets: 'month' from January of the current year to 12 months
-- ahead, 'year' before and after.
create function tickflow_partition_unit(day date, today date) returns text
language sql immutable as $$
  select case
    when day >= date_trunc('year', today) and day < date_trunc('month', today) + interval '13 months'
      then 'month'
    else 'year'
  end
$$;

-- Readable names: ticks_2019 (a year), ticks_202611 (a month), ticks_20261124 (a day of an older
-- store), ticks_20190301_20190401 (anything else, e.g. a gap between older partitions).
create function tickflow_partition_name(lo timestamptz, hi timestamptz) returns text
language sql immutable as $$
  select 'ticks_' || case
    when h = l + 1 then to_char(l, 'YYYYMMDD')
    when l = date_trunc('month', l) and h = (l + interval '1 month')::date then to_char(l, 'YYYYMM')
    when l = date_trunc('year', l) and h = (l + interval '1 year')::date then to_char(l, 'YYYY')
    else to_char(l, 'YYYYMMDD') || '_' || to_char(h, 'YYYYMMDD')
  end
  from (select (lo at time zone 'UTC')::date as l, (hi at time zone 'UTC')::date as h) d
$$;

-- Makes sure a partition holds `ts` and returns its bounds. Creation is serialised by an advisory
-- lock so two processors cannot create overlapping partitions.
create function tickflow_ensure_partition(
  ts timestamptz,
  today date default (now() at time zone 'UTC')::date
) returns table (lo timestamptz, hi timestamptz)
language plpgsql as $$
declare
  unit text := tickflow_partition_unit((ts at time zone 'UTC')::date, today);
  base timestamp := date_trunc(unit, ts at time zone 'UTC');
begin
  return query select p.lo, p.hi from tickflow_ticks_partitions() p where p.lo <= ts and ts < p.hi;
  if found then return; end if;
  perform pg_advisory_xact_lock(7240002);
  return query select p.lo, p.hi from tickflow_ticks_partitions() p where p.lo <= ts and ts < p.hi;
  if found then return; end if;
  -- greatest/least ignore the null of an empty max/min: no neighbour, no clipping.
  select greatest(base at time zone 'UTC', max(p.hi)) into lo
    from tickflow_ticks_partitions() p where p.hi <= ts;
  select least((base + ('1 ' || unit)::interval) at time zone 'UTC', min(p.lo)) into hi
    from tickflow_ticks_partitions() p where p.lo > ts;
  execute format('create table %I partition of ticks for values from (%L) to (%L)',
                 tickflow_partition_name(lo, hi), lo, hi);
  return next;
end $$;

-- Older processors call this one: it now creates the partition of the new layout.
create or replace function tickflow_ensure_day_partition(day date) returns void
language sql as $$
  select from tickflow_ensure_partition(day::timestamp at time zone 'UTC')
$$;

-- The month or year ranges that hold more than one partition and at least one day partition (a
-- store from before this layout): each is merged into one partition.
create function tickflow_ticks_merge_candidates(today date default (now() at time zone 'UTC')::date)
returns table (lo timestamptz, hi timestamptz, partitions bigint)
language sql stable as $$
  with p as (
    select p.*, tickflow_partition_unit((p.lo at time zone 'UTC')::date, today) as unit
    from tickflow_ticks_partitions() p
  ), u as (
    select distinct date_trunc(unit, lo at time zone 'UTC') as s, unit from p
    where hi - lo <= interval '1 day'
  )
  select u.s at time zone 'UTC', (u.s + ('1 ' || u.unit)::interval) at time zone 'UTC', count(*)
  from u join tickflow_ticks_partitions() q
    on q.lo >= u.s at time zone 'UTC' and q.hi <= (u.s + ('1 ' || u.unit)::interval) at time zone 'UTC'
  group by u.s, u.unit
  having count(*) > 1
  order by 1
$$;

-- Merges every partition inside [u_lo, u_hi) into one partition covering the range (clipped to
-- its neighbours); returns how many partitions were merged. Writers to ticks wait while the rows
-- are copied (SHARE on ticks); readers only for the final swap. Locking ticks before any of its
-- partitions (and after the advisory lock, like tickflow_ensure_partition) rules out deadlocks.
create function tickflow_merge_ticks_partitions(u_lo timestamptz, u_hi timestamptz) returns integer
language plpgsql as $$
declare
  parts text[];
  m_lo timestamptz;
  m_hi timestamptz;
  p text;
  tmp text;
begin
  perform pg_advisory_xact_lock(7240002);
  lock table ticks in share mode;
  select array_agg(q.name order by q.lo), min(q.lo), max(q.hi) into parts, m_lo, m_hi
    from tickflow_ticks_partitions() q where q.lo >= u_lo and q.hi <= u_hi;
  if coalesce(array_length(parts, 1), 0) < 2 then return 0; end if;
  select greatest(u_lo, max(q.hi)) into m_lo from tickflow_ticks_partitions() q where q.hi <= m_lo;
  select least(u_hi, min(q.lo)) into m_hi from tickflow_ticks_partitions() q where q.lo >= m_hi;
  tmp := 'ticks_merging_' || to_char(m_lo at time zone 'UTC', 'YYYYMMDD');
  execute format('create table %I (like ticks including defaults)', tmp);
  foreach p in array parts loop
    execute format('insert into %I select * from %I', tmp, p);
  end loop;
  -- The indexes of ticks, built before the swap so readers wait only for the swap itself; the
  -- check lets ATTACH skip scanning the rows again.
  execute format('create index on %I (symbol, ts)', tmp);
  if to_regclass('ticks_stored_at') is not null then
    execute format('create index on %I (stored_at)', tmp);
  end if;
  execute format('alter table %I add constraint %I check (ts >= %L and ts < %L)',
                 tmp, tmp || '_range', m_lo, m_hi);
  foreach p in array parts loop
    execute format('drop table %I', p);
  end loop;
  execute format('alter table %I rename to %I', tmp, tickflow_partition_name(m_lo, m_hi));
  execute format('alter table ticks attach partition %I for values from (%L) to (%L)',
                 tickflow_partition_name(m_lo, m_hi), m_lo, m_hi);
  execute format('alter table %I drop constraint %I', tickflow_partition_name(m_lo, m_hi), tmp || '_range');
  return array_length(parts, 1);
end $$;
