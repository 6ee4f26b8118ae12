-- A day partition of an older store that is the only partition in its month or year was left as
-- it was by migration 003 (a merge needs two partitions), so the rest of that month or year got a
-- partition clipped to start after it (ticks_20261202_20270101 next to ticks_20261201). Such a
-- day partition is now widened to its whole month or year, clipped to its neighbours like any
-- merge, when that gains anything (src/store/partitions.ts runs the widening for such a range).

-- The month or year ranges whose only partition is a day partition with room to grow on either
-- side (no partition ends where it starts or starts where it ends). tickflow_ticks_merge_candidates
-- (003) lists the ranges holding more than one partition.
create function tickflow_ticks_widen_candidates(today date default (now() at time zone 'UTC')::date)
returns table (lo timestamptz, hi timestamptz)
language sql stable as $$
  select r.lo, r.hi
  from tickflow_ticks_partitions() d
  cross join lateral (
    select date_trunc(unit, d.lo at time zone 'UTC') at time zone 'UTC' as lo,
           (date_trunc(unit, d.lo at time zone 'UTC') + ('1 ' || unit)::interval) at time zone 'UTC' as hi
    from tickflow_partition_unit((d.lo at time zone 'UTC')::date, today) as unit
  ) r
  where d.hi - d.lo <= interval '1 day'
    and not exists (select 1 from tickflow_ticks_partitions() o
                    where o.name <> d.name and o.lo >= r.lo and o.hi <= r.hi)
    and ((d.lo > r.lo and not exists (select 1 from tickflow_ticks_partitions() n where n.hi = d.lo))
      or (d.hi < r.hi and not exists (select 1 from tickflow_ticks_partitions() n where n.lo = d.hi)))
  order by 1
$$;

-- Widens the only partition inside [u_lo, u_hi) to the range, clipped to its neighbours: it is
-- detached, renamed and attached again with the wider bounds, keeping its rows and indexes (the
-- attach checks the rows against the new bounds, one day's worth). Returns 1 when it widened it,
-- 0 when there was nothing to do. Locks as tickflow_merge_ticks_partitions does.
create function tickflow_widen_ticks_partition(u_lo timestamptz, u_hi timestamptz) returns integer
language plpgsql as $$
declare
  parts text[];
  p_lo timestamptz;
  p_hi timestamptz;
  m_lo timestamptz;
  m_hi timestamptz;
begin
  perform pg_advisory_xact_lock(7240002);
  lock table ticks in share mode;
  select array_agg(q.name), min(q.lo), max(q.hi) into parts, p_lo, p_hi
    from tickflow_ticks_partitions() q where q.lo >= u_lo and q.hi <= u_hi;
  if coalesce(array_length(parts, 1), 0) <> 1 then return 0; end if;
  select greatest(u_lo, max(q.hi)) into m_lo from tickflow_ticks_partitions() q where q.hi <= p_lo;
  select least(u_hi, min(q.lo)) into m_hi from tickflow_ticks_partitions() q where q.lo >= p_hi;
  if m_lo = p_lo and m_hi = p_hi then return 0; end if;
  execute format('alter table ticks detach partition %I', parts[1]);
  execute format('alter table %I rename to %I', parts[1], tickflow_partition_name(m_lo, m_hi));
  execute format('alter table ticks attach partition %I for values from (%L) to (%L)',
                 tickflow_partition_name(m_lo, m_hi), m_lo, m_hi);
  return 1;
end $$;
