-- Bars by the consolidated tapes' sale-condition rules (src/domain/conditions.ts): a trade updates
-- open/close, high/low and volume only as its conditions allow, so a bar may have a volume and no
-- prices (e.g. a minute holding only an official closing print or odd lots). Its open/close (with
-- the (ts, ingest_seq) they came from) and high/low are then null. Dropping NOT NULL rewrites
-- nothing.
alter table bars
  alter column open drop not null,
  alter column high drop not null,
  alter column low drop not null,
  alter column close drop not null,
  alter column open_ts drop not null,
  alter column open_seq drop not null,
  alter column close_ts drop not null,
  alter column close_seq drop not null;
