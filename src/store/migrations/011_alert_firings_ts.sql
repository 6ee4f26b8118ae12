-- Retention removes alert firings by their trade's event time, like ticks (docs/analytics.md,
-- "Retention"): an index on ts keeps each 10,000-row chunk of a purge a range scan.
create index if not exists alert_firings_ts on alert_firings (ts);
