-- Homebot's events (api.md §8) get an outbox of their own: one narrow row
-- per audit event of an organization, written by the trigger on the audit
-- log (R__events.sql) in the transaction of the audit row, read in order
-- and deleted by homebot-worker once the broker acknowledged the event.
-- Before, each event was a homebot.jobs row of kind mqtt.publish: seven
-- indexes, written three times (queued, running, succeeded). Here an
-- event costs one heap row and one primary-key entry; taking it is an
-- update no index sees (HOT), and publishing it a delete. The envelope is
-- built from the audit row when the event is taken, off the writer's
-- transaction.
--
-- No foreign key: an outbox row names its organization and audit row by
-- value (a key check per write would lock the organization's row); the
-- events of an organization gone when they are taken are dropped
-- unpublished. No runtime role reads or writes the table: only the
-- trigger and homebot.event_claim (SECURITY DEFINER) do.
CREATE TABLE homebot.event_outbox (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	organization_id uuid NOT NULL,
	audit_id uuid NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- The worker process that holds the event, until when, and how many
	-- times it was taken (a lease that ran out makes it runnable again).
	lease_owner text,
	lease_expires_at timestamptz,
	attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0)
)
-- A queue: every row is deleted soon after it is written. Room on each
-- page for the lease's update to stay HOT, and a vacuum after every
-- thousand deletions, not after a fifth of the table (the default), so
-- the dead rows the takers step over stay few.
WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
      autovacuum_vacuum_cost_delay = 0);
ALTER TABLE homebot.event_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.event_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY definer_access ON homebot.event_outbox TO CURRENT_USER USING (true) WITH CHECK (true);

-- The events still waiting as jobs move to the outbox (their envelopes
-- are built again from their audit rows, the same): one statement, so a
-- job enqueued meanwhile is either moved or left for R__events.sql, which
-- moves the rest once its trigger has replaced the old one.
WITH moved AS (
	DELETE FROM homebot.jobs AS j
	 WHERE j.kind = 'mqtt.publish' AND j.status IN ('queued', 'failed', 'running')
	   AND j.payload ->> 'id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	RETURNING j.organization_id, (j.payload ->> 'id')::uuid AS audit_id, j.created_at, j.id)
INSERT INTO homebot.event_outbox (organization_id, audit_id, created_at)
SELECT m.organization_id, m.audit_id, m.created_at FROM moved AS m ORDER BY m.created_at, m.id;
