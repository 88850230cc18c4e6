-- Background jobs (api.md §7): the statement that hands a worker its next
-- job. The table is in 0004_jobs.sql; enqueueing, finishing and retrying
-- are plain statements of lib/job.c.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. Edit a function here, in place.

-- job_claim: the next runnable job, running under p_owner's lease of
-- p_lease seconds, or no row. By jobs_runnable_idx, which holds only
-- pending jobs, so it stays an index scan however many finished jobs the
-- table keeps. SKIP LOCKED lets workers take different jobs at once, none
-- waiting for another and no job given twice. Only homebot_worker may
-- call it.
CREATE OR REPLACE FUNCTION homebot.job_claim(p_owner text, p_lease integer)
RETURNS TABLE (id uuid, organization_id uuid, kind text, payload text, attempts integer,
               max_attempts integer)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	UPDATE homebot.jobs AS j
	   SET status = 'running', attempts = j.attempts + 1, lease_owner = p_owner,
	       lease_expires_at = now() + make_interval(secs => p_lease),
	       started_at = now(), updated_at = now()
	 WHERE j.id = (SELECT q.id FROM homebot.jobs AS q
	                WHERE q.status IN ('queued', 'failed') AND q.run_at <= now()
	                ORDER BY q.priority DESC, q.run_at, q.id
	                LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING j.id, j.organization_id, j.kind, j.payload::text, j.attempts, j.max_attempts
$$;
REVOKE ALL ON FUNCTION homebot.job_claim(text, integer) FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION homebot.job_claim(text, integer) TO homebot_worker;
