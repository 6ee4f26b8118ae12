-- A day partition of an older store that is the only partition in its month or year was left as
-- it was by migration 003 (a merge needs two partitions), so the rest of that month or year got a
-- partition clipped to start after it (ticks_20261202_20270101 next to ticks_20261201). Such a
-- day partition is now widened to its whole month or year, clipped to its neighbours like any
-- merge, when that gains anything.

-- The month or year ranges to merge: those with more than one partition and at least one day
-- partition (as before), and those whose only partition is a day partition that can grow.
create or replace function tickflow_ticks_merge_candidates(today date default (now() at time zone 'UTC')::date)
returns table (lo timestamptz, hi timestamptz, partitions bigint)
language sql stable as $$
  with p as (
    select p.*, tickflow_partition_unit((p.lo at time zone 'UTC')::date, today) as unit
    from tickflow_ticks_partitions() p
  ), u as (
    select distinct (date_trunc(unit, lo at time zone 'UTC')) at time zone 'UTC' as s,
           (date_trunc(unit, lo at time zone 'UTC') + ('1 ' || unit)::interval) at time zone 'UTC' as e
    from p
    where hi - lo <= interval '1 day'
  )
  select u.s, u.e, count(*)
  from u join tickflow_ticks_partitions() q on q.lo >= u.s and q.hi <= u.e
  group by u.s, u.e
  having count(*) > 1
      -- one partition: room on either side of it that no other partition takes
      or (min(q.lo) > u.s and not exists (select 1 from tickflow_ticks_partitions() n where n.hi = min(q.lo)))
      or (max(q.hi) < u.e and not exists (select 1 from tickflow_ticks_partitions() n where n.lo = max(q.hi)))
  order by 1
$$;

-- As in 003, and a single partition is widened to the range (clipped to its neighbours) unless
-- it already covers all of it. Returns how many partitions were replaced.
create or replace function tickflow_merge_ticks_partitions(u_lo timestamptz, u_hi timestamptz) returns integer
language plpgsql as $$
declare
  parts text[];
  p_lo timestamptz;
  p_hi timestamptz;
  m_lo timestamptz;
  m_hi timestamptz;
  p text;
  tmp text;
begin
  perform pg_advisory_xact_lock(7240002);
  lock table ticks in share mode;
  select array_agg(q.name order by q.lo), min(q.lo), max(q.hi) into parts, p_lo, p_hi
    from tickflow_ticks_partitions() q where q.lo >= u_lo and q.hi <= u_hi;
  if coalesce(array_length(parts, 1), 0) < 1 then return 0; end if;
  select greatest(u_lo, max(q.hi)) into m_lo from tickflow_ticks_partitions() q where q.hi <= p_lo;
  select least(u_hi, min(q.lo)) into m_hi from tickflow_ticks_partitions() q where q.lo >= p_hi;
  if array_length(parts, 1) = 1 and m_lo = p_lo and m_hi = p_hi then return 0; end if;
  tmp := 'ticks_merging_' || to_char(m_lo at time zone 'UTC', 'YYYYMMDD');
  execute format('create table %I (like ticks including defaults)', tmp);
  foreach p in array parts loop
    execute format('insert into %I select * from %I', tmp, p);
  end loop;
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
