-- The live tail (tickflow serve) asks for the ticks stored since its last poll, twice a second:
-- without an index that read every row of every partition (66 ms at 740,000 rows, growing).
-- Separate from 003 so the day partitions of an older store are merged before every one of them
-- gets an index in a single transaction.
create index ticks_stored_at on ticks (stored_at);
-- Retention deletes dead letters by age (src/store/retention.ts).
create index dead_letters_received_at on dead_letters (received_at);
-- Bumped after a purge drops partitions of ticks, so processors forget the partitions they have
-- seen exist (src/store/partitions.ts).
create sequence ticks_partitions_epoch;
