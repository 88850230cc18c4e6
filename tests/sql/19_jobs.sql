-- The job queue (0004_jobs.sql, R__jobs.sql): what lib/job.c and
-- homebot-worker rely on.
--
-- 1. Two workers (dblink sessions as homebot_worker, each in its own open
--    transaction) taking jobs at the same time never get the same job, and
--    neither waits for the other. Rows those sessions see are committed
--    here first, named by kind pgtap.19.*, and deleted before and after.
-- 2. Tenant isolation: a job of organization A is invisible and
--    unwritable in B's context, and a platform job in any request's.
-- 3. A request that rolls back leaves no job.
-- 4. job_counts, the queue's figures for GET /metrics: per kind, counts
--    only, of every organization, for homebot_app alone.
BEGIN;
SELECT plan(31);

CREATE EXTENSION IF NOT EXISTS dblink;

CREATE FUNCTION pg_temp.connect(p_name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_connect(p_name, format('dbname=%s user=%s host=%s port=%s application_name=%s',
	                                      current_database(), current_user,
	                                      split_part(current_setting('unix_socket_directories'), ',', 1),
	                                      current_setting('port'), p_name));
END
$$;

-- Opens a transaction on p_conn as homebot_worker and takes one job.
CREATE FUNCTION pg_temp.claim(p_conn text, p_owner text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v text;
BEGIN
	PERFORM dblink_exec(p_conn, 'BEGIN');
	PERFORM dblink_exec(p_conn, 'SET LOCAL ROLE homebot_worker');
	SELECT t.id INTO v FROM dblink(p_conn, format(
		'SELECT id::text FROM homebot.job_claim(%L, 30, NULL, 1) WHERE kind LIKE ''pgtap.19.%%''', p_owner))
		AS t (id text);
	RETURN v;
END
$$;

SELECT pg_temp.connect('w1');
SELECT pg_temp.connect('w2');
SELECT dblink_exec('w1', $$DELETE FROM homebot.jobs WHERE kind LIKE 'pgtap.19.%'$$);
-- Other pending jobs would be taken first: park them for the test.
SELECT dblink_exec('w1', $$CREATE TEMP TABLE parked AS SELECT id, run_at FROM homebot.jobs
                          WHERE status IN ('queued', 'failed')$$);
SELECT dblink_exec('w1', $$UPDATE homebot.jobs SET run_at = now() + interval '1 day'
                          WHERE id IN (SELECT id FROM parked)$$);
SELECT dblink_exec('w1', $$INSERT INTO homebot.jobs (kind, payload)
                          SELECT 'pgtap.19.claim', jsonb_build_object('n', n)
                            FROM generate_series(1, 3) AS n$$);

CREATE TEMP TABLE claimed (conn text, id text);
INSERT INTO claimed VALUES ('w1', pg_temp.claim('w1', 'pgtap-19-w1'));
INSERT INTO claimed VALUES ('w2', pg_temp.claim('w2', 'pgtap-19-w2'));

SELECT isnt((SELECT id FROM claimed WHERE conn = 'w1'), NULL, 'worker 1 takes a job');
SELECT isnt((SELECT id FROM claimed WHERE conn = 'w2'), NULL,
	'worker 2 takes one too while worker 1 still holds its own (SKIP LOCKED: no wait)');
SELECT isnt((SELECT id FROM claimed WHERE conn = 'w1'), (SELECT id FROM claimed WHERE conn = 'w2'),
	'the two workers hold different jobs');
SELECT is((SELECT v FROM dblink('w2', $$SELECT count(*)::text FROM homebot.job_claim('pgtap-19-w2', 30, NULL, 1)
                                         WHERE kind LIKE 'pgtap.19.%'$$) AS t (v text)),
	'1', 'the third job goes to whoever asks next');
SELECT is((SELECT v FROM dblink('w1', $$SELECT count(*)::text FROM homebot.job_claim('pgtap-19-w1', 30, NULL, 1)
                                         WHERE kind LIKE 'pgtap.19.%'$$) AS t (v text)),
	'0', 'and then there is none left for the other');
SELECT dblink_exec('w1', 'COMMIT');
SELECT dblink_exec('w2', 'COMMIT');
SELECT is((SELECT v FROM dblink('w1', $$SELECT string_agg(status || ':' || attempts || ':' ||
                                                         (lease_owner IS NOT NULL), ',')
                                          FROM homebot.jobs WHERE kind = 'pgtap.19.claim'$$) AS t (v text)),
	'running:1:true,running:1:true,running:1:true',
	'each job is running, taken once, under a lease');
SELECT is((SELECT v FROM dblink('w1', $$SELECT count(DISTINCT lease_owner)::text FROM homebot.jobs
                                         WHERE kind = 'pgtap.19.claim'$$) AS t (v text)),
	'2', 'both workers hold jobs');
-- Between two jobs, one call records the one done and takes the next.
SELECT dblink_exec('w1', $$INSERT INTO homebot.jobs (kind, payload)
                          VALUES ('pgtap.19.next', '{"secret": {"link": "x"}, "to": "y"}')$$);
SELECT is((SELECT v FROM dblink('w1', format(
		$$SELECT kind FROM homebot.job_claim('pgtap-19-w1', 30, ARRAY[%L]::uuid[], 1)$$,
		(SELECT id FROM claimed WHERE conn = 'w1'))) AS t (v text)),
	'pgtap.19.next', 'job_claim with the job done hands out the next one');
SELECT is((SELECT v FROM dblink('w1', format(
		$$SELECT status || ':' || (lease_owner IS NULL) || ':' || (finished_at IS NOT NULL) || ':' ||
		         (payload ? 'secret') FROM homebot.jobs WHERE id = %L$$,
		(SELECT id FROM claimed WHERE conn = 'w1'))) AS t (v text)),
	'succeeded:true:true:false', '...and records the done one succeeded, lease and secret gone');
SELECT is((SELECT v FROM dblink('w1', format(
		$$SELECT count(*)::text FROM homebot.job_claim('pgtap-19-w1', 30, ARRAY[%L]::uuid[], 1)
		   WHERE kind LIKE 'pgtap.19.%%'$$,
		(SELECT id FROM claimed WHERE conn = 'w2'))) AS t (v text)),
	'0', 'worker 1 names worker 2''s job as done (and finds no job left)');
SELECT is((SELECT v FROM dblink('w1', format($$SELECT status FROM homebot.jobs WHERE id = %L$$,
		(SELECT id FROM claimed WHERE conn = 'w2'))) AS t (v text)),
	'running', '...but worker 2''s job stays running: only its holder finishes it');
-- A batch: up to p_max jobs at once, in the order they are to run.
SELECT dblink_exec('w1', $$INSERT INTO homebot.jobs (kind, run_at)
                          SELECT 'pgtap.19.batch', now() - make_interval(secs => 10 - n)
                            FROM generate_series(1, 5) AS n$$);
SELECT is((SELECT v FROM dblink('w1', $$SELECT string_agg(j.run_at::text, ',' ORDER BY ord)
                                         FROM homebot.job_claim('pgtap-19-w1', 30, NULL, 3)
                                              WITH ORDINALITY AS c (id, o, k, p, a, m, ord)
                                         JOIN homebot.jobs j ON j.id = c.id$$) AS t (v text)),
	(SELECT v FROM dblink('w1', $$SELECT string_agg(run_at::text, ',' ORDER BY run_at)
	                               FROM (SELECT run_at FROM homebot.jobs WHERE kind = 'pgtap.19.batch'
	                                      ORDER BY run_at LIMIT 3) AS f$$) AS t (v text)),
	'a batch of 3 is the 3 oldest runnable jobs, oldest first');
SELECT is((SELECT v FROM dblink('w1', $$SELECT count(*)::text FROM homebot.job_claim('pgtap-19-w1', 30, NULL, 0)$$)
	AS t (v text)), '0', 'a claim of 0 takes nothing');
SELECT v FROM dblink('w1', $$SELECT homebot.job_release(ARRAY(SELECT id FROM homebot.jobs
                           WHERE kind = 'pgtap.19.batch' AND status = 'running'), 'pgtap-19-w1')::text$$)
	AS t (v text);
SELECT is((SELECT v FROM dblink('w1', $$SELECT string_agg(DISTINCT status || ':' || attempts ||
                                                   ':' || (lease_owner IS NULL), ',')
                                         FROM homebot.jobs WHERE kind = 'pgtap.19.batch'$$) AS t (v text)),
	'queued:0:true', 'released jobs are queued again, the attempt not counted');
SELECT dblink_exec('w1', $$DELETE FROM homebot.jobs WHERE kind LIKE 'pgtap.19.%'$$);
SELECT dblink_exec('w1', $$UPDATE homebot.jobs j SET run_at = p.run_at FROM parked p WHERE j.id = p.id$$);
SELECT dblink_disconnect('w1');
SELECT dblink_disconnect('w2');

-- The claim is the worker's alone.
SELECT ok(NOT has_function_privilege('homebot_app', 'homebot.job_claim(text, integer, uuid[], integer)', 'EXECUTE'),
	'homebot_app cannot take jobs');
SELECT ok(NOT has_function_privilege('homebot_admin', 'homebot.job_claim(text, integer, uuid[], integer)', 'EXECUTE'),
	'homebot_admin cannot take jobs');

-- Tenant isolation, inside this test's transaction.
INSERT INTO homebot.organizations (id, name, slug) VALUES
	('19000000-0000-4000-8000-00000000000a', 'Jobs A', 'pgtap-19-a'),
	('19000000-0000-4000-8000-00000000000b', 'Jobs B', 'pgtap-19-b');
INSERT INTO homebot.jobs (id, organization_id, kind) VALUES
	('19000000-0000-4000-8000-0000000000a1', '19000000-0000-4000-8000-00000000000a', 'pgtap.19.a'),
	('19000000-0000-4000-8000-0000000000b1', '19000000-0000-4000-8000-00000000000b', 'pgtap.19.b');
INSERT INTO homebot.jobs (id, kind) VALUES ('19000000-0000-4000-8000-0000000000c1', 'pgtap.19.platform');

SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '19000000-0000-4000-8000-00000000000b', true);
SELECT is((SELECT count(*)::int FROM homebot.jobs WHERE kind LIKE 'pgtap.19.%'), 1,
	'in B''s context only B''s job is visible');
SELECT is((SELECT count(*)::int FROM homebot.jobs WHERE id = '19000000-0000-4000-8000-0000000000a1'), 0,
	'A''s job is invisible in B''s context');
SELECT is((SELECT count(*)::int FROM homebot.jobs WHERE organization_id IS NULL), 0,
	'platform jobs are invisible in a request''s context');
SELECT throws_ok($$INSERT INTO homebot.jobs (organization_id, kind)
                   VALUES ('19000000-0000-4000-8000-00000000000a', 'pgtap.19.x')$$,
	'42501', NULL, 'B cannot enqueue a job for A');
SELECT throws_ok($$INSERT INTO homebot.jobs (kind) VALUES ('pgtap.19.x')$$,
	'42501', NULL, 'a request cannot enqueue a platform job');
SELECT throws_ok($$UPDATE homebot.jobs SET status = 'dead'$$, '42501', NULL,
	'the request path cannot change a job''s state');

-- A request that rolls back enqueues nothing.
SAVEPOINT request;
INSERT INTO homebot.jobs (organization_id, kind)
	VALUES ('19000000-0000-4000-8000-00000000000b', 'pgtap.19.rolled_back');
ROLLBACK TO SAVEPOINT request;
RESET ROLE;
SELECT is((SELECT count(*)::int FROM homebot.jobs WHERE kind = 'pgtap.19.rolled_back'), 0,
	'a rolled-back enqueue leaves no job');

-- job_counts: queued (and failed, waiting for a retry), running and dead per
-- kind; succeeded and cancelled jobs are not counted; the age is that of the
-- oldest job that may run now, so a job delayed into the future adds none.
INSERT INTO homebot.jobs (organization_id, kind, status, run_at) VALUES
	('19000000-0000-4000-8000-00000000000a', 'pgtap.19.count', 'queued', now() - interval '90 seconds'),
	('19000000-0000-4000-8000-00000000000b', 'pgtap.19.count', 'failed', now() - interval '30 seconds'),
	(NULL, 'pgtap.19.count', 'queued', now() + interval '1 hour'),
	('19000000-0000-4000-8000-00000000000a', 'pgtap.19.count', 'running', now()),
	(NULL, 'pgtap.19.count', 'dead', now()),
	(NULL, 'pgtap.19.count', 'dead', now()),
	('19000000-0000-4000-8000-00000000000b', 'pgtap.19.count', 'succeeded', now()),
	(NULL, 'pgtap.19.count', 'cancelled', now()),
	(NULL, 'pgtap.19.later', 'queued', now() + interval '1 hour');
-- What GET /ready's jobs check must say, read by the owner past RLS: the
-- oldest wait of a job that may run, and the dead jobs, over every row.
SELECT set_config('pgtap.ready_want', (SELECT format('%s/%s',
	coalesce(extract(epoch FROM now() - min(run_at)
	         FILTER (WHERE status IN ('queued', 'failed') AND run_at <= now())), 0)::int,
	count(*) FILTER (WHERE status = 'dead')) FROM homebot.jobs), true);
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT results_eq(
	$$SELECT kind, queued, running, dead, oldest_queued_seconds::int
	    FROM homebot.job_counts() WHERE kind IN ('pgtap.19.count', 'pgtap.19.later')$$,
	$$VALUES ('pgtap.19.count'::text, 3::bigint, 1::bigint, 2::bigint, 90),
	         ('pgtap.19.later', 1, 0, 0, 0)$$,
	'job_counts, called as homebot_app without a context: every organization''s and platform jobs, by kind and state');
SELECT is((SELECT count(*)::int FROM homebot.jobs WHERE kind IN ('pgtap.19.count', 'pgtap.19.later')), 0,
	'...while homebot_app itself sees none of those rows');
SELECT is(
	(SELECT format('%s/%s', coalesce(max(oldest_queued_seconds), 0)::int, coalesce(sum(dead), 0))
	   FROM homebot.job_counts()),
	current_setting('pgtap.ready_want'),
	'GET /ready''s query (lib/ready.c), as homebot_app without a context: the oldest wait and the dead jobs of every organization, two numbers');
RESET ROLE;
SELECT is(
	(SELECT proargnames FROM pg_proc WHERE oid = 'homebot.job_counts()'::regprocedure),
	ARRAY['kind', 'queued', 'running', 'dead', 'oldest_queued_seconds'],
	'job_counts answers kind, queued, running, dead and oldest_queued_seconds: counts, never a row''s content');
SELECT ok(has_function_privilege('homebot_app', 'homebot.job_counts()', 'EXECUTE'),
	'homebot_app (the metrics program) may call job_counts');
SELECT ok(NOT has_function_privilege('homebot_admin', 'homebot.job_counts()', 'EXECUTE')
          AND NOT has_function_privilege('homebot_worker', 'homebot.job_counts()', 'EXECUTE'),
	'homebot_admin and homebot_worker may not');
SELECT is((SELECT provolatile::text FROM pg_proc WHERE oid = 'homebot.job_counts()'::regprocedure),
	's', 'job_counts is STABLE (it only reads)');

-- job_claim's plans never scan the whole table: a server connection keeps
-- the plans of its first calls, and the planner, with the statistics of a
-- small table, would choose sequential scans and keep them as finished
-- jobs pile up. Here: statistics of an empty table, a server connection's
-- cached plans, and then no sequential scan of the jobs in ten calls.
DELETE FROM homebot.jobs;
ANALYZE homebot.jobs;
CREATE TEMP TABLE seq_before AS
SELECT coalesce(seq_scan, 0) AS seq_scan
  FROM pg_stat_xact_user_tables WHERE relid = 'homebot.jobs'::regclass;
SET LOCAL ROLE homebot_worker;
SELECT count(*) FROM generate_series(1, 10) AS i,
       LATERAL homebot.job_claim('pgtap-19-seq', 60, ARRAY[gen_random_uuid()], 10) AS c;
RESET ROLE;
SELECT is((SELECT coalesce(x.seq_scan, 0) - b.seq_scan FROM pg_stat_xact_user_tables x, seq_before b
            WHERE x.relid = 'homebot.jobs'::regclass),
          0::bigint, 'job_claim never scans the whole table, whatever its statistics say');

SELECT * FROM finish();
ROLLBACK;
