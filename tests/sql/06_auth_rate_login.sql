-- auth_rate_hit, login_lookup and login_failed, called as homebot_app (the
-- request path has no tenant context yet when it calls them). Checks of
-- what they wrote run as the superuser, since homebot_app cannot read
-- login_attempts, auth_rate_limits or platform audit events.
--
-- now() is fixed for the whole test transaction, so every attempt recorded
-- here happens "now"; attempts in the past are seeded with explicit times.
BEGIN;
SELECT plan(45);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000060a', 'Org 6A', 'pgtap-06-a');
INSERT INTO homebot.users (id, email, password_hash, full_name, disabled_at) VALUES
	('00000000-0000-4000-8000-0000000006e1', 'PgTap-06-Known@Example.test', '$2b$12$pgtap06known', 'Known', NULL),
	('00000000-0000-4000-8000-0000000006e2', 'pgtap-06-disabled@example.test', '$2b$12$pgtap06disabled', 'Disabled', now());
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000060a', '00000000-0000-4000-8000-0000000006e1', 'owner');

SET LOCAL ROLE homebot_app;

-- auth_rate_hit: a fixed one-minute window per IP.
CREATE TEMP TABLE rate_expected AS
SELECT ceil(extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now()))::integer AS retry;

SELECT is(homebot.auth_rate_hit('pgtap-06-ip-1', 3), 0, 'auth_rate_hit: hit 1 of 3 passes');
SELECT is(homebot.auth_rate_hit('pgtap-06-ip-1', 3), 0, 'auth_rate_hit: hit 2 of 3 passes');
SELECT is(homebot.auth_rate_hit('pgtap-06-ip-1', 3), 0, 'auth_rate_hit: hit 3 of 3 passes');
SELECT is(homebot.auth_rate_hit('pgtap-06-ip-1', 3), (SELECT retry FROM rate_expected),
	'auth_rate_hit: hit 4 of 3 gets the seconds until the window ends');
SELECT cmp_ok(homebot.auth_rate_hit('pgtap-06-ip-1', 3), '>=', 1,
	'auth_rate_hit: hit 5 is refused too, with a retry of at least one second');
SELECT cmp_ok((SELECT retry FROM rate_expected), '<=', 60, 'auth_rate_hit: a retry is at most a minute');
SELECT is(homebot.auth_rate_hit('pgtap-06-ip-2', 3), 0, 'auth_rate_hit: another IP has its own count');
SELECT is(homebot.auth_rate_hit(NULL, 3), 0, 'auth_rate_hit: an unknown IP is counted, not an error');

RESET ROLE;
SELECT results_eq(
	$$SELECT ip, window_start, hits FROM homebot.auth_rate_limits WHERE ip LIKE 'pgtap-06-ip-%' ORDER BY ip$$,
	$$VALUES ('pgtap-06-ip-1'::text, date_trunc('minute', now()), 5),
	         ('pgtap-06-ip-2'::text, date_trunc('minute', now()), 1)$$,
	'auth_rate_hit: one row per IP and window, counting every hit');

-- Windows older than five minutes are swept, now and then.
INSERT INTO homebot.auth_rate_limits (ip, window_start, hits) VALUES
	('pgtap-06-old', date_trunc('minute', now()) - interval '6 minutes', 9),
	('pgtap-06-recent', date_trunc('minute', now()) - interval '4 minutes', 9);
DO $$
BEGIN
	-- Each call sweeps with probability 1/100: 3000 calls all miss with
	-- probability 0.99^3000, about 1e-13.
	FOR i IN 1..3000 LOOP
		PERFORM homebot.auth_rate_hit('pgtap-06-sweeper', 1000000);
		EXIT WHEN NOT EXISTS (SELECT FROM homebot.auth_rate_limits WHERE ip = 'pgtap-06-old');
	END LOOP;
END
$$;
SELECT is_empty($$SELECT * FROM homebot.auth_rate_limits WHERE ip = 'pgtap-06-old'$$,
	'auth_rate_hit: a window older than five minutes is eventually deleted');
SELECT isnt_empty($$SELECT * FROM homebot.auth_rate_limits WHERE ip = 'pgtap-06-recent'$$,
	'auth_rate_hit: a window of four minutes ago is kept');

SET LOCAL ROLE homebot_app;

-- login_lookup: always one row.
SELECT results_eq(
	$$SELECT * FROM homebot.login_lookup('pgtap-06-nobody@example.test', 5, 900)$$,
	$$VALUES (NULL::uuid, NULL::text, NULL::boolean, 0)$$,
	'login_lookup: an unknown email gives one row of NULLs, not locked');
SELECT results_eq(
	$$SELECT * FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900)$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e1'::uuid, '$2b$12$pgtap06known'::text, false, 0)$$,
	'login_lookup: a stored mixed-case email is found by its lower-case form');
SELECT results_eq(
	$$SELECT user_id FROM homebot.login_lookup('PGTAP-06-KNOWN@example.TEST', 5, 900)$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e1'::uuid)$$,
	'login_lookup: an email not lower-cased by the caller is found all the same');
SELECT results_eq(
	$$SELECT user_id, disabled FROM homebot.login_lookup('pgtap-06-disabled@example.test', 5, 900)$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e2'::uuid, true)$$,
	'login_lookup: a disabled user is reported as disabled');

-- login_failed locks a known email after 5 failures.
SELECT homebot.login_failed('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                            '192.0.2.6', 'pgtap-agent', 'pgtap-06-req', 5, 900)
  FROM generate_series(1, 4);
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900)), 0,
	'known email: 4 failures of 5 do not lock');
SELECT homebot.login_failed('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                            '192.0.2.6', 'pgtap-agent', 'pgtap-06-req', 5, 900);
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900)), 900,
	'known email: the 5th failure locks it for the whole window');
SELECT results_eq(
	$$SELECT user_id, password_hash FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900)$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e1'::uuid, '$2b$12$pgtap06known'::text)$$,
	'known email: a locked lookup still returns the user');
SELECT homebot.login_failed('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                            '192.0.2.6', 'pgtap-agent', 'pgtap-06-req', 5, 900);
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900)), 900,
	'known email: a 6th failure keeps it locked');

-- ... and an unknown email exactly the same way.
SELECT homebot.login_failed('pgtap-06-nobody@example.test', NULL, '192.0.2.7', 'pgtap-agent',
                            'pgtap-06-req-u', 5, 900)
  FROM generate_series(1, 4);
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-nobody@example.test', 5, 900)), 0,
	'unknown email: 4 failures of 5 do not lock');
SELECT homebot.login_failed('pgtap-06-nobody@example.test', NULL, '192.0.2.7', 'pgtap-agent',
                            'pgtap-06-req-u', 5, 900);
SELECT results_eq(
	$$SELECT * FROM homebot.login_lookup('pgtap-06-nobody@example.test', 5, 900)$$,
	$$VALUES (NULL::uuid, NULL::text, NULL::boolean, 900)$$,
	'unknown email: the 5th failure locks it, still as one row of NULLs');

-- homebot_app, even inside an organization, sees none of these events.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000060a', true);
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE changes->>'email' LIKE 'pgtap-06-%'$$,
	'homebot_app cannot read the platform events of failed logins and lockouts');
SELECT set_config('app.org_id', '', true);

-- What was recorded.
RESET ROLE;
SELECT results_eq(
	$$SELECT email, ip, succeeded, count(*)::int FROM homebot.login_attempts
	   WHERE email LIKE 'pgtap-06-%' GROUP BY 1, 2, 3 ORDER BY 1$$,
	$$VALUES ('pgtap-06-known@example.test'::text, '192.0.2.6'::text, false, 6),
	         ('pgtap-06-nobody@example.test'::text, '192.0.2.7'::text, false, 5)$$,
	'login_failed records each failure under the lower-case email');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_type, target_id, ip, user_agent, request_id,
	         changes, count(*)::int
	    FROM homebot.audit_log
	   WHERE action = 'auth.login.failed' AND changes->>'email' = 'pgtap-06-known@example.test'
	   GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9$$,
	$$VALUES (NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000006e1'::uuid, 'user'::text,
	          '00000000-0000-4000-8000-0000000006e1'::text, '192.0.2.6'::text, 'pgtap-agent'::text,
	          'pgtap-06-req'::text, '{"email": "pgtap-06-known@example.test"}'::jsonb, 6)$$,
	'known email: one auth.login.failed platform event per failure, the user as actor and target');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_type, target_id, ip, user_agent, request_id, changes
	    FROM homebot.audit_log
	   WHERE action = 'auth.locked' AND changes->>'email' = 'pgtap-06-known@example.test'$$,
	$$VALUES (NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000006e1'::uuid, 'user'::text,
	          '00000000-0000-4000-8000-0000000006e1'::text, '192.0.2.6'::text, 'pgtap-agent'::text,
	          'pgtap-06-req'::text, '{"email": "pgtap-06-known@example.test"}'::jsonb)$$,
	'known email: exactly one auth.locked event, written by the failure that locked it');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_type, target_id, changes, count(*)::int
	    FROM homebot.audit_log
	   WHERE action = 'auth.login.failed' AND changes->>'email' = 'pgtap-06-nobody@example.test'
	   GROUP BY 1, 2, 3, 4, 5, 6$$,
	$$VALUES (NULL::uuid, 'system'::text, NULL::uuid, 'user'::text, NULL::text,
	          '{"email": "pgtap-06-nobody@example.test"}'::jsonb, 5)$$,
	'unknown email: auth.login.failed events have the system as actor and no target id');
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'auth.locked' AND actor_type = 'system'
	    AND changes = '{"email": "pgtap-06-nobody@example.test"}'),
	1, 'unknown email: exactly one auth.locked event');

-- A successful login ends the lock, and failures count again from there.
SET LOCAL ROLE homebot_app;
SELECT is(
	(SELECT status FROM homebot.login_start('00000000-0000-4000-8000-0000000006e1', NULL, '192.0.2.6',
	                                        'pgtap-agent', 'pgtap-06-req-ok', sha256('pgtap-06-refresh'),
	                                        604800, NULL)),
	'ok', 'a successful login of the locked-out user (after his password was verified)');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900)), 0,
	'a success unlocks the email: failures before it no longer count');
SELECT homebot.login_failed('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                            '192.0.2.6', 'pgtap-agent', 'pgtap-06-req', 5, 900)
  FROM generate_series(1, 4);
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900)), 0,
	'after the success, 4 new failures do not lock');
SELECT homebot.login_failed('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                            '192.0.2.6', 'pgtap-agent', 'pgtap-06-req', 5, 900);
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900)), 900,
	'after the success, the 5th new failure locks again');
RESET ROLE;
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'auth.locked' AND changes->>'email' = 'pgtap-06-known@example.test'),
	2, 'the second lockout is audited too');
SELECT results_eq(
	$$SELECT email, succeeded FROM homebot.login_attempts
	   WHERE email = 'pgtap-06-known@example.test' AND succeeded$$,
	$$VALUES ('pgtap-06-known@example.test'::text, true)$$,
	'the successful login was recorded once, under the lower-case email');

-- The window, with attempts seeded in the past (ids in time order).
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded)
SELECT 'pgtap-06-window@example.test', now() - make_interval(secs => s), false
  FROM unnest(ARRAY[890, 800, 700, 600, 500, 400]) AS s;

SET LOCAL ROLE homebot_app;
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 5, 900)), 100,
	'6 failures, limit 5: locked until the 5th newest (800 s ago) leaves the 900 s window');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 6, 900)), 10,
	'6 failures, limit 6: locked until the oldest (890 s ago) leaves the window');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 7, 900)), 0,
	'6 failures, limit 7: not locked');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 5, 850)), 50,
	'850 s window: the failure 890 s ago no longer counts, 5 remain, locked for 50 s');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 5, 600)), 0,
	'600 s window: only 3 failures are inside it, not locked');
RESET ROLE;

INSERT INTO homebot.login_attempts (email, attempted_at, succeeded)
SELECT 'pgtap-06-edge@example.test', now() - interval '899.8 seconds', false
  FROM generate_series(1, 5);
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded)
SELECT 'pgtap-06-expired@example.test', now() - interval '901 seconds', false
  FROM generate_series(1, 5);
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded)
SELECT 'pgtap-06-between@example.test', now() - make_interval(secs => s), s = 300
  FROM unnest(ARRAY[500, 400, 300, 200, 100]) AS s;
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded) VALUES
	('pgtap-06-oldsuccess@example.test', now() - interval '1000 seconds', true);
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded)
SELECT 'pgtap-06-oldsuccess@example.test', now() - interval '10 seconds', false
  FROM generate_series(1, 5);

SET LOCAL ROLE homebot_app;
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-edge@example.test', 5, 900)), 1,
	'a lock with 0.2 s left reports a retry of 1 second, never 0');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-expired@example.test', 5, 900)), 0,
	'failures older than the window do not lock');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-between@example.test', 3, 900)), 0,
	'only failures after the last success count: 2 of 3');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-between@example.test', 2, 900)), 700,
	'only failures after the last success count: 2 of 2 lock, until the older one leaves');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-oldsuccess@example.test', 5, 900)), 890,
	'a success before the window does not shield failures inside it');
RESET ROLE;

-- login_failed notices the lockout also when earlier failures came from
-- other requests (here: seeded ones), and only at the limit.
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded)
SELECT 'pgtap-06-seeded@example.test', now() - interval '60 seconds', false
  FROM generate_series(1, 3);
SET LOCAL ROLE homebot_app;
SELECT homebot.login_failed('pgtap-06-seeded@example.test', NULL, NULL, NULL, NULL, 5, 900);
RESET ROLE;
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'auth.locked' AND changes->>'email' = 'pgtap-06-seeded@example.test'),
	0, 'the 4th failure of 5 writes no auth.locked');
SET LOCAL ROLE homebot_app;
SELECT homebot.login_failed('pgtap-06-seeded@example.test', NULL, NULL, NULL, NULL, 5, 900);
RESET ROLE;
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'auth.locked' AND changes->>'email' = 'pgtap-06-seeded@example.test'),
	1, 'the 5th failure of 5 writes auth.locked');

SELECT * FROM finish();
ROLLBACK;
