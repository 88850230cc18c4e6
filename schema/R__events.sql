-- Homebot's own MQTT events (api.md §8, README "Events"): every audit
-- event of an organization becomes a job of kind mqtt.publish, enqueued by
-- a trigger on audit_log in the transaction that wrote the audit row (an
-- outbox: a change that rolls back leaves neither row, so it publishes
-- nothing). homebot-worker publishes the job's payload, the event's
-- envelope, on org/<org_id>/events with QoS 1 and finishes the job only
-- after the broker's PUBACK; a broker that is down makes the job retry.
-- The envelope is docs/events.schema.json.
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

-- event_enqueue: after an audit row of an organization is inserted, its
-- event as a job of that organization (max_attempts 100: with the retry's
-- backoff, days of broker outage delay events without losing them), and
-- jobs_wake() to wake the workers at commit. The events of
-- an organization's own deletion are not published. The row itself is
-- never changed: the audit log stays append-only. The job's trace ID is
-- the transaction's (job_fill_trace), the same as the row's.
CREATE OR REPLACE FUNCTION homebot.event_enqueue()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	-- An organization being deleted publishes nothing more (its jobs go
	-- with it): the events of its deletion find it gone.
	IF NOT EXISTS (SELECT FROM homebot.organizations WHERE id = NEW.organization_id) THEN
		RETURN NULL;
	END IF;
	-- The envelope (docs/events.schema.json): its id is the audit row's
	-- (unique per event: subscribers deduplicate by it), type the action,
	-- occurred_at UTC with microseconds, correlation_id the request ID,
	-- trace_id the request's W3C trace ID. Neither the IP nor the user
	-- agent is in it.
	INSERT INTO homebot.jobs (organization_id, kind, payload, max_attempts)
	VALUES (NEW.organization_id, 'mqtt.publish',
	        jsonb_build_object(
	            'id', NEW.id,
	            'type', NEW.action,
	            'version', 1,
	            'occurred_at', to_char(NEW.occurred_at AT TIME ZONE 'UTC',
	                                   'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	            'correlation_id', NEW.request_id,
	            'trace_id', NEW.trace_id,
	            'organization_id', NEW.organization_id,
	            'data', jsonb_build_object(
	                'actor_type', NEW.actor_type,
	                'actor_id', NEW.actor_id,
	                'target_type', NEW.target_type,
	                'target_id', NEW.target_id,
	                'changes', homebot.event_data(NEW.changes))),
	        100);
	PERFORM homebot.jobs_wake();
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER event_enqueue AFTER INSERT ON homebot.audit_log
	FOR EACH ROW WHEN (NEW.organization_id IS NOT NULL)
	EXECUTE FUNCTION homebot.event_enqueue();

-- Only the trigger calls these; no runtime role may.
REVOKE ALL ON FUNCTION
	homebot.event_data(jsonb),
	homebot.event_enqueue(),
	homebot.jobs_wake()
FROM PUBLIC, homebot_app, homebot_admin;
