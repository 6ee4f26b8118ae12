-- Sale conditions of a trade, as the provider sent them (Avro trade v2, or the JSON envelope's
-- `conditions`); null when none were sent. Adding a nullable column without a default rewrites
-- nothing, also on a large partitioned table.
alter table ticks add column if not exists conditions text[];
