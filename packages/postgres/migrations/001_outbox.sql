-- The outbox: events written in the caller's transaction, already encoded for the wire, so the relay
-- needs no contracts. `seq` orders rows per key; the relay deletes a row once the broker confirmed it.
CREATE TABLE IF NOT EXISTS {{outbox}} (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel    text        NOT NULL,
  event_id   text        NOT NULL,
  key        text,
  headers    jsonb       NOT NULL,
  body       bytea       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The relay asks "is an earlier row of this key still waiting?" for every keyed batch.
CREATE INDEX IF NOT EXISTS {{outbox_index}} ON {{outbox}} (key, seq) WHERE key IS NOT NULL;

-- One NOTIFY per inserting statement; PostgreSQL delivers it at commit (never for a rollback) and folds
-- repeats within a transaction, so a relay LISTENing on the table's name wakes once per commit.
CREATE OR REPLACE FUNCTION {{outbox_notify_function}}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify({{outbox_channel}}, '');
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS {{outbox_notify_trigger}} ON {{outbox}};
CREATE TRIGGER {{outbox_notify_trigger}} AFTER INSERT ON {{outbox}}
  FOR EACH STATEMENT EXECUTE FUNCTION {{outbox_notify_function}}();
