-- User alert rules, their firings and the webhook outbox (docs/analytics.md, "Alerts").
-- A firing is written in the transaction of the batch whose trade fired it, keyed by (rule, trade):
-- a batch replayed after a crash writes the same keys again and `on conflict do nothing` keeps one.
create table alert_rules (
  id          bigserial   primary key,
  name        text,
  kind        text        not null check (kind in ('price_cross', 'percent_move', 'volume_spike', 'indicator_cross')),
  symbols     text[]      not null check (cardinality(symbols) between 1 and 100),
  direction   text        not null check (direction in ('up', 'down')),
  -- the kind's parameters (level, percent, window, interval, period, ...), as created through the API
  params      jsonb       not null,
  webhook_url text,
  created_at  timestamptz not null default now()
);

create table alert_firings (
  -- hex of sha-256 over (rule id, event): the same on every replay, sent as the Idempotency-Key
  id          text        primary key,
  rule_id     bigint      not null references alert_rules (id) on delete cascade,
  -- the trade that fired it: topic/partition/offset
  event       text        not null,
  symbol      text        not null,
  ts          timestamptz not null,
  price       numeric     not null,
  value       text        not null,
  fired_at    timestamptz not null default now(),
  unique (rule_id, event)
);
create index alert_firings_fired_at on alert_firings (fired_at);
create index alert_firings_rule on alert_firings (rule_id, ts);

-- One row per firing of a rule with a webhook, written with the firing; the deliverer claims due
-- rows (for update skip locked), posts them and marks them delivered, so a restart resumes.
create table alert_deliveries (
  firing_id       text        primary key references alert_firings (id) on delete cascade,
  url             text        not null,
  attempts        integer     not null default 0,
  next_attempt_at timestamptz not null default now(),
  delivered_at    timestamptz,
  last_error      text
);
create index alert_deliveries_due on alert_deliveries (next_attempt_at) where delivered_at is null;
