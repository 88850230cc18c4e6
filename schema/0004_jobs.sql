-- Background jobs (api.md §7): a queue in PostgreSQL, taken by the
-- homebot-worker processes with FOR UPDATE SKIP LOCKED and woken by
-- NOTIFY homebot_jobs. A job of an organization carries its
-- organization_id and is isolated like every tenant row; a platform job
-- has none and is visible only to the worker and admin roles.

-- The worker's role: it takes and finishes jobs of every organization and
-- nothing else. Created only when missing, like the other runtime roles.
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'homebot_worker' AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'role homebot_worker exists but is SUPERUSER or BYPASSRLS; a DBA must run: ALTER ROLE homebot_worker NOSUPERUSER NOBYPASSRLS; then run the migrations again';
	END IF;
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'homebot_worker') THEN
		RETURN;
	END IF;
	IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'role homebot_worker does not exist and role % may not create roles; a DBA must run: CREATE ROLE homebot_worker LOGIN NOSUPERUSER NOBYPASSRLS; then run the migrations again',
			current_user;
	END IF;
	CREATE ROLE homebot_worker LOGIN NOSUPERUSER NOBYPASSRLS;
END
$$;

CREATE TABLE homebot.jobs (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	-- NULL: a platform job (retention, …), of no organization.
	organization_id uuid REFERENCES homebot.organizations (id) ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,62}$'),
	payload jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
	status text NOT NULL DEFAULT 'queued'
		CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
	priority smallint NOT NULL DEFAULT 0,
	run_at timestamptz NOT NULL DEFAULT now(),
	attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
	lease_owner text,
	lease_expires_at timestamptz,
	last_error text CHECK (char_length(last_error) <= 1000),
	-- Enqueueing the same (kind, unique_key) again while one is pending
	-- does nothing.
	unique_key text CHECK (char_length(unique_key) <= 200),
	created_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	finished_at timestamptz,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- "The next runnable job": only pending jobs are in this index, so taking
-- one is an index scan however many finished jobs the table holds.
CREATE INDEX jobs_runnable_idx ON homebot.jobs (priority DESC, run_at, id)
	WHERE status IN ('queued', 'failed');
-- Leases that ran out: only running jobs.
CREATE INDEX jobs_lease_idx ON homebot.jobs (lease_expires_at) WHERE status = 'running';
-- The tenant index, newest first (GET /api/v1/jobs).
CREATE INDEX jobs_organization_id_created_at_idx
	ON homebot.jobs (organization_id, created_at DESC, id DESC);
-- Every organization's jobs, newest first (GET /api/v1/admin/jobs).
CREATE INDEX jobs_created_at_idx ON homebot.jobs (created_at DESC, id DESC);
-- Retention: finished jobs by the time they finished.
CREATE INDEX jobs_finished_at_idx ON homebot.jobs (finished_at)
	WHERE status IN ('succeeded', 'cancelled');
CREATE UNIQUE INDEX jobs_unique_pending_key ON homebot.jobs (kind, unique_key)
	WHERE unique_key IS NOT NULL AND status IN ('queued', 'running', 'failed');

ALTER TABLE homebot.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY jobs_tenant ON homebot.jobs
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));
-- The worker takes jobs of every organization (and platform jobs); the
-- admin role sees and retries them.
CREATE POLICY worker_access ON homebot.jobs TO homebot_worker USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.jobs TO homebot_admin USING (true) WITH CHECK (true);
-- homebot.job_claim (R__jobs.sql) runs as the owner of the migrations.
CREATE POLICY definer_access ON homebot.jobs TO CURRENT_USER USING (true) WITH CHECK (true);

GRANT USAGE ON SCHEMA homebot TO homebot_worker;
-- The request path enqueues (in its own transaction) and reads its jobs.
GRANT SELECT, INSERT ON homebot.jobs TO homebot_app;
GRANT SELECT, INSERT, DELETE ON homebot.jobs TO homebot_worker;
GRANT UPDATE (status, run_at, attempts, lease_owner, lease_expires_at, last_error, payload,
              started_at, finished_at, updated_at) ON homebot.jobs TO homebot_worker;
GRANT SELECT ON homebot.jobs TO homebot_admin;
GRANT UPDATE (status, run_at, attempts, last_error, finished_at, updated_at)
	ON homebot.jobs TO homebot_admin;
GRANT SELECT ON public.schema_migrations TO homebot_worker;

INSERT INTO homebot.permissions (name, description) VALUES
	('jobs:read', 'List the organization''s background jobs');
INSERT INTO homebot.role_permissions (role, permission) VALUES
	('admin', 'jobs:read'), ('owner', 'jobs:read');
