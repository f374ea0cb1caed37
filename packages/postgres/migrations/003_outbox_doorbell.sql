-- NOTIFY only when a relay is waiting for one. PostgreSQL serialises the commits of every transaction
-- that notifies (a database-wide lock held until the commit is flushed), so one NOTIFY per insert put
-- each API request's commit behind the others': POST p99 37 ms at 1,000 requests/s with
-- synchronous_commit on, 14 ms without the NOTIFY (docs/decisions/0007-outbox-inbox-tables.md).
--
-- The doorbell is an advisory lock on ({{doorbell_class}}, hash of the channel). A relay with nothing left
-- to do takes it exclusively and waits for a NOTIFY; a busy relay does not hold it and looks again on its
-- own. A writer takes it shared for its transaction when it can: it can when no relay waits, and then
-- skips the NOTIFY. Because that shared lock is held until the writer's commit is visible, a relay that
-- gets the doorbell knows every writer that skipped its NOTIFY has committed, and looks once more.
CREATE OR REPLACE FUNCTION {{outbox_notify_function}}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock_shared({{doorbell_class}}, hashtext({{outbox_channel}})) THEN
    PERFORM pg_notify({{outbox_channel}}, '');
  END IF;
  RETURN NULL;
END
$$;
