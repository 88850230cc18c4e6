-- Homebot's own MQTT events (api.md §8, README "Events"): every audit
-- event of an organization is published on org/<org_id>/events. A trigger
-- on audit_log puts its audit row's id in homebot.event_outbox
-- (0023_event_outbox.sql) in the transaction that wrote the row (a change
-- that rolls back leaves neither row, so it publishes nothing).
-- homebot-worker takes the outbox's events in order with event_claim,
-- which builds each envelope from its audit row, publishes them with QoS
-- 1 and has them deleted only after the broker's PUBACK; a broker that is
-- down leaves them in the outbox. The envelope is docs/events.schema.json.
--
-- A repeatable file (docs/migrations.md): everything here can run twice.

-- event_data: the part of an audit row's changes an event may carry. An
-- allow-list, so that a column added later (a key, a token, a setting's
-- value) is never published by default: only the keys named here, each
-- with a scalar value (scopes: an array of strings), at the top level or
-- inside "old" and "new" (the row triggers' shape). Values of secrets,
-- hashes, ciphertexts, wrapped keys, key prefixes, e-mail addresses,
-- descriptions and settings documents are all left out: their keys are
-- not on the list. One statement, no nested call: it runs for every
-- audit event.
CREATE OR REPLACE FUNCTION homebot.event_data(p_changes jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_keys CONSTANT text[] := ARRAY[
		'id', 'organization_id', 'user_id', 'team_id', 'session_id', 'secret_id',
		'invitation_id', 'refresh_token_id', 'created_by', 'updated_by', 'role', 'status',
		'name', 'slug', 'from', 'to', 'reason', 'resent', 'by', 'version', 'value_version',
		'sessions_revoked', 'created_at', 'updated_at', 'deleted_at', 'revoked_at',
		'expires_at', 'suspended_at', 'disabled_at', 'used_at'];
BEGIN
	IF jsonb_typeof(p_changes) IS DISTINCT FROM 'object' THEN
		RETURN '{}'::jsonb;
	END IF;
	RETURN (
		SELECT coalesce(jsonb_object_agg(e.key, CASE WHEN e.key IN ('old', 'new') THEN (
			SELECT coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb)
			  FROM jsonb_each(e.value) AS f
			 WHERE (f.key = ANY (v_keys)
			        AND jsonb_typeof(f.value) IN ('string', 'number', 'boolean', 'null'))
			    OR (f.key = 'scopes' AND jsonb_typeof(f.value) = 'array'
			        AND NOT jsonb_path_exists(f.value, '$[*] ? (@.type() != "string")')))
			ELSE e.value END), '{}'::jsonb)
		  FROM jsonb_each(p_changes) AS e
		 WHERE (e.key IN ('old', 'new') AND jsonb_typeof(e.value) = 'object')
		    OR (e.key = ANY (v_keys)
		        AND jsonb_typeof(e.value) IN ('string', 'number', 'boolean', 'null'))
		    OR (e.key = 'scopes' AND jsonb_typeof(e.value) = 'array'
		        AND NOT jsonb_path_exists(e.value, '$[*] ? (@.type() != "string")')));
END
$$;

-- jobs_wake: a NOTIFY homebot_jobs (sent at commit) unless this server
-- connection sent one in the last 100 ms; true when it did. A notifying
-- commit takes a lock that every other notifying commit of the cluster
-- waits for, so a NOTIFY per audited write would cap all writers at one
-- commit at a time. A skipped one loses nothing: the commit before it on
-- this connection woke the workers at most 100 ms earlier, and a worker
-- that ran jobs in the last second looks again every 100 ms
-- (tools/worker.c). The time is kept as a session setting (undone with
-- the transaction that set it); a value that is not one, or in the
-- future, counts as none.
CREATE OR REPLACE FUNCTION homebot.jobs_wake()
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_last text := current_setting('homebot.jobs_woken_at', true);
	v_now double precision := extract(epoch FROM clock_timestamp());
BEGIN
	IF v_last ~ '^[0-9]{1,12}(\.[0-9]{1,9})?$'
	   AND v_now - v_last::double precision BETWEEN 0 AND 0.1 THEN
		RETURN false;
	END IF;
	PERFORM set_config('homebot.jobs_woken_at', v_now::text, false);
	PERFORM pg_notify('homebot_jobs', '');
	RETURN true;
END
$$;

-- event_envelope: the envelope of audit row a (docs/events.schema.json):
-- its id is the audit row's (unique per event: subscribers deduplicate by
-- it), type the action, occurred_at UTC with microseconds, correlation_id
-- the request ID, trace_id the request's W3C trace ID. Neither the IP nor
-- the user agent is in it, and of the changes only what event_data lets
-- through.
CREATE OR REPLACE FUNCTION homebot.event_envelope(a homebot.audit_log)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	-- PL/pgSQL, not SQL: an SQL function with a SET clause is parsed and
	-- planned again in every statement that calls it (each event_claim).
	RETURN jsonb_build_object(
	           'id', a.id,
	           'type', a.action,
	           'version', 1,
	           'occurred_at', to_char(a.occurred_at AT TIME ZONE 'UTC',
	                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	           'correlation_id', a.request_id,
	           'trace_id', a.trace_id,
	           'organization_id', a.organization_id,
	           'data', jsonb_build_object(
	               'actor_type', a.actor_type,
	               'actor_id', a.actor_id,
	               'target_type', a.target_type,
	               'target_id', a.target_id,
	               'changes', homebot.event_data(a.changes)));
END
$$;

-- event_enqueue: after an audit row of an organization is inserted, its
-- id in the outbox, and jobs_wake() to wake the workers at commit. The
-- events of an organization being deleted are not kept (the cascade of a
-- large organization's deletion would fill the outbox with events to
-- drop): they find it gone. The row itself is never changed: the audit
-- log stays append-only.
CREATE OR REPLACE FUNCTION homebot.event_enqueue()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_woken boolean;
BEGIN
	IF NOT EXISTS (SELECT FROM homebot.organizations WHERE id = NEW.organization_id) THEN
		RETURN NULL;
	END IF;
	INSERT INTO homebot.event_outbox (organization_id, audit_id)
	VALUES (NEW.organization_id, NEW.id);
	-- An assignment, not PERFORM: evaluated without an executor of its own.
	v_woken := homebot.jobs_wake();
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER event_enqueue AFTER INSERT ON homebot.audit_log
	FOR EACH ROW WHEN (NEW.organization_id IS NOT NULL)
	EXECUTE FUNCTION homebot.event_enqueue();

-- Events that an older release's trigger enqueued as mqtt.publish jobs
-- after 0023_event_outbox moved the others (until the trigger above
-- replaced it): into the outbox too. Nothing to move on a second run.
WITH moved AS (
	DELETE FROM homebot.jobs AS j
	 WHERE j.kind = 'mqtt.publish' AND j.status IN ('queued', 'failed', 'running')
	   AND j.payload ->> 'id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	RETURNING j.organization_id, (j.payload ->> 'id')::uuid AS audit_id, j.created_at, j.id)
INSERT INTO homebot.event_outbox (organization_id, audit_id, created_at)
SELECT m.organization_id, m.audit_id, m.created_at FROM moved AS m ORDER BY m.created_at, m.id;

-- event_claim: deletes p_owner's events p_done (published), then hands
-- p_owner up to p_max (0 to 100) events no lease holds after p_after,
-- oldest first, under a lease of p_lease seconds: one round trip between
-- two batches. The published events leave dead rows at the head of the
-- outbox until a vacuum; a worker passes the last seq it took as p_after,
-- so that it does not step over them at every look, and 0 now and then,
-- for the events that committed after others with a greater seq, and
-- those another worker gave back.
-- Each comes with its envelope and trace ID; an event whose organization
-- is gone by now or whose audit row is missing comes without an
-- envelope, to be recorded as done unpublished. Taking
-- an event changes no indexed column, so the update is HOT; SKIP LOCKED
-- lets workers take different events at once. Only homebot_worker may
-- call it. Its plans never scan the whole outbox (enable_seqscan off):
-- a queue's dead rows pile up between two vacuums, and plans made from
-- the statistics of a vacuumed, empty outbox, kept by the server
-- connection until the next vacuum, scanned them all at every call (a
-- sixth of the database's time under a steady stream of events).
-- event_release, planned afresh at each call, turns them off too: the
-- same statistics would make its plan the same scan.
CREATE OR REPLACE FUNCTION homebot.event_claim(p_owner text, p_lease integer, p_done bigint[],
                                               p_max integer, p_after bigint)
RETURNS TABLE (seq bigint, event_id uuid, organization_id uuid, payload text, attempts integer,
               trace_id text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
	-- PL/pgSQL, not SQL: its plans are kept from one call to the next.
	IF cardinality(p_done) > 0 THEN
		DELETE FROM homebot.event_outbox AS d
		 WHERE d.seq = ANY (p_done) AND d.lease_owner = p_owner;
	END IF;
	IF coalesce(p_max, 0) <= 0 THEN
		RETURN;
	END IF;
	RETURN QUERY
	WITH taken AS (
		UPDATE homebot.event_outbox AS o
		   SET lease_owner = p_owner, attempts = o.attempts + 1,
		       lease_expires_at = now() + make_interval(secs => p_lease)
		 WHERE o.seq = ANY (ARRAY(SELECT q.seq FROM homebot.event_outbox AS q
		                          WHERE q.seq > coalesce(p_after, 0)
		                            AND (q.lease_expires_at IS NULL OR q.lease_expires_at < now())
		                          ORDER BY q.seq
		                          LIMIT least(p_max, 100) FOR UPDATE SKIP LOCKED))
		RETURNING o.seq, o.organization_id, o.audit_id, o.attempts)
	SELECT t.seq, t.audit_id, t.organization_id,
	       CASE WHEN g.id IS NOT NULL THEN homebot.event_envelope(a)::text END,
	       t.attempts, a.trace_id
	  FROM taken AS t
	  LEFT JOIN homebot.audit_log AS a
	    ON a.id = t.audit_id AND a.organization_id = t.organization_id
	  LEFT JOIN homebot.organizations AS g ON g.id = a.organization_id
	 ORDER BY t.seq;
END
$$;

-- event_release: p_owner gives back its events p_seqs it could not
-- publish (the broker is down): another look may take them at once.
CREATE OR REPLACE FUNCTION homebot.event_release(p_seqs bigint[], p_owner text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
SET enable_seqscan = off
AS $$
	UPDATE homebot.event_outbox
	   SET lease_owner = NULL, lease_expires_at = NULL
	 WHERE seq = ANY (p_seqs) AND lease_owner = p_owner
$$;

-- Only the trigger calls these; no runtime role may.
REVOKE ALL ON FUNCTION
	homebot.event_data(jsonb),
	homebot.event_envelope(homebot.audit_log),
	homebot.event_enqueue(),
	homebot.jobs_wake()
FROM PUBLIC, homebot_app, homebot_admin;
REVOKE ALL ON FUNCTION
	homebot.event_claim(text, integer, bigint[], integer, bigint),
	homebot.event_release(bigint[], text)
FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION
	homebot.event_claim(text, integer, bigint[], integer, bigint),
	homebot.event_release(bigint[], text)
TO homebot_worker;
