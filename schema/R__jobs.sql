-- Background jobs (api.md §7): the statement that hands a worker its next
-- job. The table is in 0004_jobs.sql; enqueueing, finishing and retrying
-- are plain statements of lib/job.c.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. Edit a function here, in place.

-- job_succeed: p_owner's running job p_id has succeeded; its payload
-- loses its "secret" part (a mail's token-bearing link). Nothing happens
-- when another worker holds the job now (p_owner's lease ran out).
CREATE OR REPLACE FUNCTION homebot.job_succeed(p_id uuid, p_owner text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	UPDATE homebot.jobs
	   SET status = 'succeeded', finished_at = now(), payload = payload - 'secret',
	       lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, updated_at = now()
	 WHERE id = p_id AND lease_owner = p_owner AND status = 'running'
$$;
REVOKE ALL ON FUNCTION homebot.job_succeed(uuid, text) FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION homebot.job_succeed(uuid, text) TO homebot_worker;

-- job_claim: records p_done (when not NULL) as succeeded, as job_succeed
-- does, then hands p_owner the next runnable job under a lease of p_lease
-- seconds, or no row: one round trip between two jobs. By
-- jobs_runnable_idx, which holds only pending jobs, so it stays an index
-- scan however many finished jobs the table keeps. SKIP LOCKED lets
-- workers take different jobs at once, none waiting for another and no job
-- given twice. Only homebot_worker may call it.
CREATE OR REPLACE FUNCTION homebot.job_claim(p_owner text, p_lease integer, p_done uuid)
RETURNS TABLE (id uuid, organization_id uuid, kind text, payload text, attempts integer,
               max_attempts integer)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT homebot.job_succeed(p_done, p_owner) WHERE p_done IS NOT NULL;
	UPDATE homebot.jobs AS j
	   SET status = 'running', attempts = j.attempts + 1, lease_owner = p_owner,
	       lease_expires_at = now() + make_interval(secs => p_lease),
	       started_at = now(), updated_at = now()
	 WHERE j.id = (SELECT q.id FROM homebot.jobs AS q
	                WHERE q.status IN ('queued', 'failed') AND q.run_at <= now()
	                ORDER BY q.priority DESC, q.run_at, q.id
	                LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING j.id, j.organization_id, j.kind, j.payload::text, j.attempts, j.max_attempts;
$$;
REVOKE ALL ON FUNCTION homebot.job_claim(text, integer, uuid) FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION homebot.job_claim(text, integer, uuid) TO homebot_worker;
