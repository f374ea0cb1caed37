-- The inbox: one row per (consumer group, event id) whose handler committed. The primary key makes a
-- concurrent duplicate wait for the first copy's transaction, then skip.
CREATE TABLE IF NOT EXISTS {{inbox}} (
  group_name   text        NOT NULL,
  event_id     text        NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, event_id)
);

-- Retention: prune deletes rows older than the redelivery horizon.
CREATE INDEX IF NOT EXISTS {{inbox_index}} ON {{inbox}} (processed_at);
