-- auth_rate_hit, login_lookup and login_failed, called as homebot_app (the
-- request path has no tenant context yet when it calls them). Checks of
-- what they wrote run as the superuser, since homebot_app cannot read
-- login_attempts, auth_rate_limits or platform audit events.
--
-- A login calls login_lookup, which (unless the email is locked) records
-- the attempt as failed before the password is checked; then login_failed
-- with that attempt, or login_start. pg_temp.failed_logins below plays
-- whole failed logins that way.
--
-- now() is fixed for the whole test transaction, so every attempt recorded
-- here happens "now"; attempts in the past are seeded with explicit times.
BEGIN;
SELECT plan(70);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000060a', 'Org 6A', 'pgtap-06-a');
INSERT INTO homebot.users (id, email, password_hash, full_name, disabled_at) VALUES
	('00000000-0000-4000-8000-0000000006e1', 'PgTap-06-Known@Example.test', '$2b$12$pgtap06known', 'Known', NULL),
	('00000000-0000-4000-8000-0000000006e2', 'pgtap-06-disabled@example.test', '$2b$12$pgtap06disabled', 'Disabled', now()),
	('00000000-0000-4000-8000-0000000006e3', 'pgtap-06-right@example.test', '$2b$12$pgtap06right', 'Right', NULL);
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000060a', '00000000-0000-4000-8000-0000000006e1', 'owner'),
	('00000000-0000-4000-8000-00000000060a', '00000000-0000-4000-8000-0000000006e3', 'member');

SET LOCAL ROLE homebot_app;

-- auth_rate_hit: a fixed one-minute window per scope and IP.
CREATE TEMP TABLE rate_expected AS
SELECT ceil(extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now()))::integer AS retry;

SELECT is(homebot.auth_rate_hit('auth', 'pgtap-06-ip-1', 3), 0, 'auth_rate_hit: hit 1 of 3 passes');
SELECT is(homebot.auth_rate_hit('auth', 'pgtap-06-ip-1', 3), 0, 'auth_rate_hit: hit 2 of 3 passes');
SELECT is(homebot.auth_rate_hit('auth', 'pgtap-06-ip-1', 3), 0, 'auth_rate_hit: hit 3 of 3 passes');
SELECT is(homebot.auth_rate_hit('auth', 'pgtap-06-ip-1', 3), (SELECT retry FROM rate_expected),
	'auth_rate_hit: hit 4 of 3 gets the seconds until the window ends');
SELECT cmp_ok(homebot.auth_rate_hit('auth', 'pgtap-06-ip-1', 3), '>=', 1,
	'auth_rate_hit: hit 5 is refused too, with a retry of at least one second');
SELECT cmp_ok((SELECT retry FROM rate_expected), '<=', 60, 'auth_rate_hit: a retry is at most a minute');
SELECT is(homebot.auth_rate_hit('auth', 'pgtap-06-ip-2', 3), 0, 'auth_rate_hit: another IP has its own count');

-- Refresh counts apart: an IP refused for auth still refreshes, and the
-- refreshes it spends leave its auth count alone.
SELECT is(homebot.auth_rate_hit('refresh', 'pgtap-06-ip-1', 3), 0,
	'auth_rate_hit: refresh hit 1 of 3 passes while auth of the same IP is refused');
SELECT is(homebot.auth_rate_hit('refresh', 'pgtap-06-ip-1', 3), 0, 'auth_rate_hit: refresh hit 2 of 3 passes');
SELECT is(homebot.auth_rate_hit('refresh', 'pgtap-06-ip-1', 3), 0, 'auth_rate_hit: refresh hit 3 of 3 passes');
SELECT cmp_ok(homebot.auth_rate_hit('refresh', 'pgtap-06-ip-1', 3), '>=', 1,
	'auth_rate_hit: refresh hit 4 of 3 is refused');
SELECT is(homebot.auth_rate_hit('refresh', 'pgtap-06-ip-2', 3), 0,
	'auth_rate_hit: another IP has its own refresh count');
SELECT is(homebot.auth_rate_hit('auth', 'pgtap-06-ip-2', 3), 0,
	'auth_rate_hit: refreshes did not count against the IP''s auth calls');
SELECT is(homebot.auth_rate_hit('auth', NULL, 3), 0, 'auth_rate_hit: an unknown IP is counted, not an error');
SELECT throws_ok($$SELECT homebot.auth_rate_hit('login', 'pgtap-06-ip-3', 3)$$, '22023',
	'auth_rate_hit: unknown scope login', 'auth_rate_hit: an unknown scope is an error, never a counter of its own');
SELECT throws_ok($$SELECT homebot.auth_rate_hit(NULL, 'pgtap-06-ip-3', 3)$$, '22023', NULL,
	'auth_rate_hit: so is a NULL scope');

RESET ROLE;
SELECT results_eq(
	$$SELECT ip, window_start, hits FROM homebot.auth_rate_limits WHERE ip LIKE '% pgtap-06-ip-%' ORDER BY ip$$,
	$$VALUES ('auth pgtap-06-ip-1'::text, date_trunc('minute', now()), 5),
	         ('auth pgtap-06-ip-2'::text, date_trunc('minute', now()), 2),
	         ('refresh pgtap-06-ip-1'::text, date_trunc('minute', now()), 4),
	         ('refresh pgtap-06-ip-2'::text, date_trunc('minute', now()), 1)$$,
	'auth_rate_hit: one row per scope, IP and window, counting every hit');

-- Windows older than five minutes are swept, now and then.
INSERT INTO homebot.auth_rate_limits (ip, window_start, hits) VALUES
	('pgtap-06-old', date_trunc('minute', now()) - interval '6 minutes', 9),
	('pgtap-06-recent', date_trunc('minute', now()) - interval '4 minutes', 9);
DO $$
BEGIN
	-- Each call sweeps with probability 1/100: 3000 calls all miss with
	-- probability 0.99^3000, about 1e-13.
	FOR i IN 1..3000 LOOP
		PERFORM homebot.auth_rate_hit('auth', 'pgtap-06-sweeper', 1000000);
		EXIT WHEN NOT EXISTS (SELECT FROM homebot.auth_rate_limits WHERE ip = 'pgtap-06-old');
	END LOOP;
END
$$;
SELECT is_empty($$SELECT * FROM homebot.auth_rate_limits WHERE ip = 'pgtap-06-old'$$,
	'auth_rate_hit: a window older than five minutes is eventually deleted');
SELECT isnt_empty($$SELECT * FROM homebot.auth_rate_limits WHERE ip = 'pgtap-06-recent'$$,
	'auth_rate_hit: a window of four minutes ago is kept');

SET LOCAL ROLE homebot_app;

-- p_n failed logins of p_email, one after the other, as the request path
-- makes them: login_lookup, and for an attempt not locked out (its password
-- "checked" and found wrong) login_failed with its attempt id. Returns how
-- many got as far as the password check.
CREATE FUNCTION pg_temp.failed_logins(p_email text, p_user_id uuid, p_ip text, p_request_id text,
                                      p_n integer, p_max integer DEFAULT 5, p_window integer DEFAULT 900)
RETURNS integer
LANGUAGE plpgsql
AS $fn$
DECLARE
	v_retry_after integer;
	v_attempt_id bigint;
	v_checked integer := 0;
BEGIN
	FOR i IN 1..p_n LOOP
		SELECT l.retry_after, l.attempt_id INTO v_retry_after, v_attempt_id
		  FROM homebot.login_lookup(p_email, p_max, p_window, p_ip) l;
		IF v_retry_after = 0 THEN
			PERFORM homebot.login_failed(p_email, p_user_id, p_ip, 'pgtap-agent', p_request_id,
			                             p_max, p_window, v_attempt_id);
			v_checked := v_checked + 1;
		END IF;
	END LOOP;
	RETURN v_checked;
END
$fn$;

-- login_lookup: always one row, and, the email not being locked, the id of
-- the attempt it recorded.
CREATE TEMP TABLE lookup AS
SELECT 'pgtap-06-nobody@example.test'::text AS email, '192.0.2.7'::text AS ip, 'pgtap-06-req-u'::text AS req, l.*
  FROM homebot.login_lookup('pgtap-06-nobody@example.test', 5, 900, '192.0.2.7') l;
INSERT INTO lookup
SELECT 'pgtap-06-known@example.test', '192.0.2.6', 'pgtap-06-req', l.*
  FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900, '192.0.2.6') l;
INSERT INTO lookup
SELECT 'PGTAP-06-KNOWN@example.TEST', '192.0.2.6', 'pgtap-06-req', l.*
  FROM homebot.login_lookup('PGTAP-06-KNOWN@example.TEST', 5, 900, '192.0.2.6') l;
INSERT INTO lookup
SELECT 'pgtap-06-disabled@example.test', '192.0.2.8', 'pgtap-06-req-d', l.*
  FROM homebot.login_lookup('pgtap-06-disabled@example.test', 5, 900, '192.0.2.8') l;

SELECT results_eq(
	$$SELECT user_id, password_hash, disabled, retry_after, attempt_id IS NOT NULL FROM lookup
	   WHERE email = 'pgtap-06-nobody@example.test'$$,
	$$VALUES (NULL::uuid, NULL::text, NULL::boolean, 0, true)$$,
	'login_lookup: an unknown email gives one row of NULLs, not locked, with an attempt id');
SELECT results_eq(
	$$SELECT user_id, password_hash, disabled, retry_after, attempt_id IS NOT NULL FROM lookup
	   WHERE email = 'pgtap-06-known@example.test'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e1'::uuid, '$2b$12$pgtap06known'::text, false, 0, true)$$,
	'login_lookup: a stored mixed-case email is found by its lower-case form');
SELECT results_eq(
	$$SELECT user_id FROM lookup WHERE email = 'PGTAP-06-KNOWN@example.TEST'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e1'::uuid)$$,
	'login_lookup: an email not lower-cased by the caller is found all the same');
SELECT results_eq(
	$$SELECT user_id, disabled FROM lookup WHERE email = 'pgtap-06-disabled@example.test'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e2'::uuid, true)$$,
	'login_lookup: a disabled user is reported as disabled');

RESET ROLE;
SELECT results_eq(
	$$SELECT a.email, a.ip, a.succeeded FROM lookup l JOIN homebot.login_attempts a ON a.id = l.attempt_id
	   ORDER BY a.id$$,
	$$VALUES ('pgtap-06-nobody@example.test'::text, '192.0.2.7'::text, false),
	         ('pgtap-06-known@example.test', '192.0.2.6', false),
	         ('pgtap-06-known@example.test', '192.0.2.6', false),
	         ('pgtap-06-disabled@example.test', '192.0.2.8', false)$$,
	'login_lookup records each attempt at once as a failed one, under the lower-case email, with the IP');
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE changes->>'email' LIKE 'pgtap-06-%'$$,
	'login_lookup audits nothing: login_failed does, once the password was found wrong');
SET LOCAL ROLE homebot_app;

-- Their passwords were wrong.
SELECT homebot.login_failed(l.email, l.user_id, l.ip, 'pgtap-agent', l.req, 5, 900, l.attempt_id)
  FROM lookup l;

-- The known email: 2 failures so far; 2 more, then the 5th attempt.
SELECT is(pg_temp.failed_logins('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                                '192.0.2.6', 'pgtap-06-req', 2), 2,
	'known email: failures 3 and 4 of 5 get their passwords checked');
CREATE TEMP TABLE fifth AS
SELECT * FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900, '192.0.2.6');
SELECT results_eq(
	$$SELECT retry_after, attempt_id IS NOT NULL FROM fifth$$,
	$$VALUES (0, true)$$,
	'known email: 4 failures of 5 do not lock, the 5th attempt is let through');
SELECT results_eq(
	$$SELECT retry_after, attempt_id FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900, '192.0.2.6')$$,
	$$VALUES (900, NULL::bigint)$$,
	'known email: the 5th attempt locks it for the whole window before its password is checked; a locked-out attempt is not recorded');
SELECT homebot.login_failed('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                            '192.0.2.6', 'pgtap-agent', 'pgtap-06-req-5', 5, 900,
                            (SELECT attempt_id FROM fifth));
SELECT results_eq(
	$$SELECT user_id, password_hash, retry_after, attempt_id
	    FROM homebot.login_lookup('pgtap-06-known@example.test', 5, 900, '192.0.2.6')$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e1'::uuid, '$2b$12$pgtap06known'::text, 900, NULL::bigint)$$,
	'known email: a locked lookup still returns the user');
SELECT is(pg_temp.failed_logins('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                                '192.0.2.6', 'pgtap-06-req', 3), 0,
	'known email: while it is locked, no attempt gets to a password check');

-- ... and an unknown email exactly the same way: 1 failure so far.
SELECT is(pg_temp.failed_logins('pgtap-06-nobody@example.test', NULL, '192.0.2.7', 'pgtap-06-req-u', 3), 3,
	'unknown email: failures 2 to 4 of 5 get their passwords checked');
SELECT is(pg_temp.failed_logins('pgtap-06-nobody@example.test', NULL, '192.0.2.7', 'pgtap-06-req-u', 2), 1,
	'unknown email: the 5th attempt is checked, the 6th is locked out');
SELECT results_eq(
	$$SELECT * FROM homebot.login_lookup('pgtap-06-nobody@example.test', 5, 900, '192.0.2.7')$$,
	$$VALUES (NULL::uuid, NULL::text, NULL::boolean, 900, NULL::bigint)$$,
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
	$$VALUES ('pgtap-06-disabled@example.test'::text, '192.0.2.8'::text, false, 1),
	         ('pgtap-06-known@example.test', '192.0.2.6', false, 5),
	         ('pgtap-06-nobody@example.test', '192.0.2.7', false, 5)$$,
	'each attempt let through is recorded once, under the lower-case email; locked-out ones are not');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_type, target_id, ip, user_agent,
	         changes, count(*)::int
	    FROM homebot.audit_log
	   WHERE action = 'auth.login.failed' AND changes->>'email' = 'pgtap-06-known@example.test'
	   GROUP BY 1, 2, 3, 4, 5, 6, 7, 8$$,
	$$VALUES (NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000006e1'::uuid, 'user'::text,
	          '00000000-0000-4000-8000-0000000006e1'::text, '192.0.2.6'::text, 'pgtap-agent'::text,
	          '{"email": "pgtap-06-known@example.test"}'::jsonb, 5)$$,
	'known email: one auth.login.failed platform event per failure, the user as actor and target');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_type, target_id, ip, user_agent, request_id, changes
	    FROM homebot.audit_log
	   WHERE action = 'auth.locked' AND changes->>'email' = 'pgtap-06-known@example.test'$$,
	$$VALUES (NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000006e1'::uuid, 'user'::text,
	          '00000000-0000-4000-8000-0000000006e1'::text, '192.0.2.6'::text, 'pgtap-agent'::text,
	          'pgtap-06-req-5'::text, '{"email": "pgtap-06-known@example.test"}'::jsonb)$$,
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
SELECT is(pg_temp.failed_logins('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                                '192.0.2.6', 'pgtap-06-req', 4), 4,
	'a success unlocks the email: failures before it no longer count, 4 new ones are all checked');
SELECT is(pg_temp.failed_logins('pgtap-06-known@example.test', '00000000-0000-4000-8000-0000000006e1',
                                '192.0.2.6', 'pgtap-06-req', 2), 1,
	'after the success, the 5th new failure is checked and locks again: the 6th is locked out');
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

-- The right password: the attempt counts as failed while it is checked,
-- and login_start's success then ends the count, that attempt included.
SET LOCAL ROLE homebot_app;
SELECT is(pg_temp.failed_logins('pgtap-06-right@example.test', '00000000-0000-4000-8000-0000000006e3',
                                '192.0.2.9', 'pgtap-06-req-r', 4), 4,
	'right password: 4 failures first');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-right@example.test', 5, 900, '192.0.2.9')), 0,
	'right password: the 5th attempt is let through');
SELECT cmp_ok((SELECT retry_after FROM homebot.login_lookup('pgtap-06-right@example.test', 5, 900, '192.0.2.9')), '>', 0,
	'right password: while its password is checked, the email is locked for every other attempt');
SELECT is(
	(SELECT status FROM homebot.login_start('00000000-0000-4000-8000-0000000006e3', NULL, '192.0.2.9',
	                                        'pgtap-agent', 'pgtap-06-req-r-ok', sha256('pgtap-06-refresh-r'),
	                                        604800, NULL)),
	'ok', 'right password: login_start succeeds');
SELECT is(pg_temp.failed_logins('pgtap-06-right@example.test', '00000000-0000-4000-8000-0000000006e3',
                                '192.0.2.9', 'pgtap-06-req-r', 4), 4,
	'right password: the success ended the count, its own attempt included: 4 new failures do not lock');
RESET ROLE;
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'auth.locked' AND changes->>'email' = 'pgtap-06-right@example.test'),
	0, 'right password: no auth.locked (no failure reached the limit)');

-- A right password that login_start refuses (here: a disabled account) is
-- a failed login: its attempt stays counted. 1 failure so far; limit 2.
SET LOCAL ROLE homebot_app;
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-disabled@example.test', 2, 900, '192.0.2.8')), 0,
	'refused login: the attempt is let through');
SELECT is(
	(SELECT status FROM homebot.login_start('00000000-0000-4000-8000-0000000006e2', NULL, '192.0.2.8',
	                                        'pgtap-agent', 'pgtap-06-req-d-ok', sha256('pgtap-06-refresh-d'),
	                                        604800, NULL)),
	'account_disabled', 'refused login: login_start answers account_disabled');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-disabled@example.test', 2, 900, '192.0.2.8')), 900,
	'refused login: its attempt still counts, and with it the limit of 2 is reached');

-- Concurrent attempts: six lookups before any password is checked. Five
-- are let through, the sixth is locked out. Their failures then end in
-- the reverse order: exactly one auth.locked, by the attempt at which the
-- count reached the limit.
CREATE TEMP TABLE burst (n integer, retry_after integer, attempt_id bigint);
DO $$
BEGIN
	FOR i IN 1..6 LOOP
		INSERT INTO burst
		SELECT i, l.retry_after, l.attempt_id
		  FROM homebot.login_lookup('pgtap-06-burst@example.test', 5, 900, NULL) l;
	END LOOP;
END
$$;
SELECT results_eq(
	$$SELECT n, retry_after > 0, attempt_id IS NOT NULL FROM burst ORDER BY n$$,
	$$VALUES (1, false, true), (2, false, true), (3, false, true), (4, false, true), (5, false, true),
	         (6, true, false)$$,
	'concurrent attempts: the first five are let through and counted before any check, the sixth is locked out');
DO $$
DECLARE
	b record;
BEGIN
	FOR b IN SELECT * FROM burst WHERE attempt_id IS NOT NULL ORDER BY n DESC LOOP
		PERFORM homebot.login_failed('pgtap-06-burst@example.test', NULL, NULL, NULL,
		                             'pgtap-06-burst-' || b.n, 5, 900, b.attempt_id);
	END LOOP;
END
$$;
RESET ROLE;
SELECT results_eq(
	$$SELECT action, count(*)::int, min(request_id) FILTER (WHERE action = 'auth.locked')
	    FROM homebot.audit_log WHERE changes->>'email' = 'pgtap-06-burst@example.test'
	   GROUP BY 1 ORDER BY 1$$,
	$$VALUES ('auth.locked'::text, 1, 'pgtap-06-burst-5'::text), ('auth.login.failed', 5, NULL)$$,
	'concurrent attempts: five auth.login.failed, one auth.locked, by the 5th attempt though its failure was audited first');
SELECT is((SELECT count(*)::int FROM homebot.login_attempts WHERE email = 'pgtap-06-burst@example.test'), 5,
	'concurrent attempts: login_failed recorded no attempt of its own');

-- login_failed with no attempt of this email (none, or another email's):
-- the failure is audited, nothing is recorded, nothing locked.
SET LOCAL ROLE homebot_app;
SELECT homebot.login_failed('pgtap-06-stray@example.test', NULL, NULL, NULL, 'pgtap-06-stray', 1, 900, NULL);
SELECT homebot.login_failed('pgtap-06-stray@example.test', NULL, NULL, NULL, 'pgtap-06-stray', 1, 900,
                            (SELECT max(attempt_id) FROM burst));
RESET ROLE;
SELECT results_eq(
	$$SELECT action, count(*)::int FROM homebot.audit_log
	   WHERE changes->>'email' = 'pgtap-06-stray@example.test' GROUP BY 1$$,
	$$VALUES ('auth.login.failed'::text, 2)$$,
	'login_failed without an attempt of its email audits the failure, and no lockout even at a limit of 1');
SELECT is((SELECT count(*)::int FROM homebot.login_attempts WHERE email = 'pgtap-06-stray@example.test'), 0,
	'login_failed without an attempt records none');

-- The window, with attempts seeded in the past (ids in time order).
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded)
SELECT 'pgtap-06-window@example.test', now() - make_interval(secs => s), false
  FROM unnest(ARRAY[890, 800, 700, 600, 500, 400]) AS s;

-- An unlocked lookup records an attempt "now": the locked ones come first.
SET LOCAL ROLE homebot_app;
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 5, 900, NULL)), 100,
	'6 failures, limit 5: locked until the 5th newest (800 s ago) leaves the 900 s window');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 6, 900, NULL)), 10,
	'6 failures, limit 6: locked until the oldest (890 s ago) leaves the window');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 5, 850, NULL)), 50,
	'850 s window: the failure 890 s ago no longer counts, 5 remain, locked for 50 s');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 7, 900, NULL)), 0,
	'6 failures, limit 7: not locked (and a 7th is recorded)');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-window@example.test', 5, 600, NULL)), 0,
	'600 s window: only 3 failures are inside it (500 and 400 s ago, and the one just recorded), not locked');
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
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-edge@example.test', 5, 900, NULL)), 1,
	'a lock with 0.2 s left reports a retry of 1 second, never 0');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-expired@example.test', 5, 900, NULL)), 0,
	'failures older than the window do not lock');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-between@example.test', 2, 900, NULL)), 700,
	'only failures after the last success count: 2 of 2 lock, until the older one leaves');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-between@example.test', 3, 900, NULL)), 0,
	'only failures after the last success count: 2 of 3');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-06-oldsuccess@example.test', 5, 900, NULL)), 890,
	'a success before the window does not shield failures inside it');
RESET ROLE;

-- login_failed notices the lockout also when earlier failures came from
-- other requests (here: seeded ones), and only at the limit.
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded)
SELECT 'pgtap-06-seeded@example.test', now() - interval '60 seconds', false
  FROM generate_series(1, 3);
SET LOCAL ROLE homebot_app;
SELECT pg_temp.failed_logins('pgtap-06-seeded@example.test', NULL, NULL, NULL, 1);
RESET ROLE;
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'auth.locked' AND changes->>'email' = 'pgtap-06-seeded@example.test'),
	0, 'the 4th failure of 5 writes no auth.locked');
SET LOCAL ROLE homebot_app;
SELECT pg_temp.failed_logins('pgtap-06-seeded@example.test', NULL, NULL, NULL, 1);
RESET ROLE;
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'auth.locked' AND changes->>'email' = 'pgtap-06-seeded@example.test'),
	1, 'the 5th failure of 5 writes auth.locked');

SELECT * FROM finish();
ROLLBACK;
