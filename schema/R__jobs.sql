-- Background jobs (api.md §7): what a worker calls to record successes,
-- take its next jobs and give back those it did not start. The table is
-- in 0004_jobs.sql; enqueueing, failing and retrying are plain statements
-- of lib/job.c.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. Edit a function here, in place.

-- job_claim: records p_owner's running jobs p_done (when any) as
-- succeeded, their payloads without their "secret" part (a mail's
-- token-bearing link); a job another worker holds now (p_owner's lease
-- ran out) is left alone. Then hands p_owner up to p_max (0 to 100)
-- runnable jobs under a lease of p_lease seconds, in the order they are
-- to run, or no row: one round trip between two batches. By jobs_runnable_idx, which
-- holds only pending jobs, so it stays an index scan however many finished
-- jobs the table keeps. SKIP LOCKED lets workers take different jobs at
-- once, none waiting for another and no job given twice. Only
-- homebot_worker may call it. Each job comes with the trace ID it was
-- enqueued in, for the worker's log lines. (Dropped first: its result
-- columns grew trace_id, which CREATE OR REPLACE cannot add.) Its plans
-- never scan the whole table (enable_seqscan off), as event_claim's: a
-- server connection keeps the plans it made at its first calls, and plans
-- made while the table was small (a new install, a worker started on an
-- empty queue) scanned every job at each call as finished jobs piled up,
-- until an analyze of the table replanned them.
DROP FUNCTION IF EXISTS homebot.job_claim(text, integer, uuid[], integer);
CREATE OR REPLACE FUNCTION homebot.job_claim(p_owner text, p_lease integer, p_done uuid[],
                                             p_max integer)
RETURNS TABLE (id uuid, organization_id uuid, kind text, payload text, attempts integer,
               max_attempts integer, trace_id text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
SET enable_seqscan = off
AS $$
BEGIN
	-- PL/pgSQL, not SQL: its plans are kept from one call to the next.
	UPDATE homebot.jobs AS d
	   SET status = 'succeeded', finished_at = now(), payload = d.payload - 'secret',
	       lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, updated_at = now()
	 WHERE d.id = ANY (coalesce(p_done, '{}')) AND d.lease_owner = p_owner
	   AND d.status = 'running';
	RETURN QUERY
	WITH taken AS (
		UPDATE homebot.jobs AS j
		   SET status = 'running', attempts = j.attempts + 1, lease_owner = p_owner,
		       lease_expires_at = now() + make_interval(secs => p_lease),
		       started_at = now(), updated_at = now()
		 WHERE j.id = ANY (ARRAY(SELECT q.id FROM homebot.jobs AS q
		                          WHERE q.status IN ('queued', 'failed') AND q.run_at <= now()
		                          ORDER BY q.priority DESC, q.run_at, q.id
		                          LIMIT greatest(0, least(p_max, 100)) FOR UPDATE SKIP LOCKED))
		RETURNING j.id, j.organization_id, j.kind, j.payload::text AS payload, j.attempts,
		          j.max_attempts, j.priority, j.run_at, j.trace_id)
	SELECT t.id, t.organization_id, t.kind, t.payload, t.attempts, t.max_attempts, t.trace_id
	  FROM taken AS t
	 ORDER BY t.priority DESC, t.run_at, t.id;
END
$$;
REVOKE ALL ON FUNCTION homebot.job_claim(text, integer, uuid[], integer)
	FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION homebot.job_claim(text, integer, uuid[], integer) TO homebot_worker;

-- job_release: p_owner gives back the jobs p_ids it took but did not start
-- (a worker that stops mid-batch): queued again at once, the attempt not
-- counted.
CREATE OR REPLACE FUNCTION homebot.job_release(p_ids uuid[], p_owner text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	UPDATE homebot.jobs
	   SET status = 'queued', attempts = attempts - 1, lease_owner = NULL,
	       lease_expires_at = NULL, updated_at = now()
	 WHERE id = ANY (p_ids) AND lease_owner = p_owner AND status = 'running'
$$;
REVOKE ALL ON FUNCTION homebot.job_release(uuid[], text) FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION homebot.job_release(uuid[], text) TO homebot_worker;

-- job_counts: the queue at a glance, for GET /metrics: per kind, the jobs
-- waiting to run (queued, and failed ones waiting for their retry),
-- running and dead, and how long the oldest of those that may run now has
-- waited past its run_at. Counts of every organization together and no
-- row of any, so homebot_app (the metrics program) may call it. The
-- pending and running jobs come by jobs_runnable_idx and jobs_lease_idx;
-- dead jobs have no index of their own, so a scrape scans the table,
-- which JOB_RETENTION keeps small. The events waiting in the outbox
-- (R__events.sql) count as kind mqtt.publish: queued when no lease holds
-- them, running when one does; an event is never dead. The outbox holds
-- only what is not published yet.
CREATE OR REPLACE FUNCTION homebot.job_counts()
RETURNS TABLE (kind text, queued bigint, running bigint, dead bigint,
               oldest_queued_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT u.kind,
	       count(*) FILTER (WHERE u.status IN ('queued', 'failed')),
	       count(*) FILTER (WHERE u.status = 'running'),
	       count(*) FILTER (WHERE u.status = 'dead'),
	       coalesce(extract(epoch FROM now() - min(u.run_at)
	                FILTER (WHERE u.status IN ('queued', 'failed') AND u.run_at <= now())), 0)::double precision
	  FROM (SELECT j.kind, j.status, j.run_at
	          FROM homebot.jobs AS j
	         WHERE j.status IN ('queued', 'failed', 'running', 'dead')
	        UNION ALL
	        SELECT 'mqtt.publish',
	               CASE WHEN o.lease_expires_at >= now() THEN 'running' ELSE 'queued' END,
	               o.created_at
	          FROM homebot.event_outbox AS o) AS u
	 GROUP BY u.kind
	 ORDER BY u.kind
$$;
REVOKE ALL ON FUNCTION homebot.job_counts() FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION homebot.job_counts() TO homebot_app;

-- job_fill_trace: a job carries the trace ID of the transaction that
-- enqueued it (app.trace_id, set with the request's context, or by the
-- worker for a job's run), however it was enqueued (lib/job.c,
-- mail_enqueue, forgot_enqueue), and never one a writer gave. NULL when
-- the context has none.
CREATE OR REPLACE FUNCTION homebot.job_fill_trace()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	NEW.trace_id := NULLIF(current_setting('app.trace_id', true), '');
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION homebot.job_fill_trace() FROM PUBLIC, homebot_app, homebot_admin;

CREATE OR REPLACE TRIGGER job_fill_trace BEFORE INSERT ON homebot.jobs
	FOR EACH ROW EXECUTE FUNCTION homebot.job_fill_trace();
