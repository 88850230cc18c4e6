-- Email ownership (api.md §2), the database side: the mail limit, the
-- mailed tokens (single use, expiring, voided by a newer one, dead once the
-- address they were sent to is not the account's), verification, password
-- reset, email change, and the invitation rules: every addition is an
-- invitation; accepting one for an unverified account sets its password,
-- verifies it and ends its sessions; a verified account must prove itself.
-- The tables are the functions' alone.
--
-- The request path's functions are called as homebot_app, the internal
-- ones (mail_allowed, email_token_issue, email_token_take) as the owner;
-- effects are checked as the superuser. One race (the mail limit) runs on
-- two dblink connections, on committed rows named pgtap-22-race-*,
-- deleted before and after.
--
--   A = ...220a: OW (...22e1, verified) owner     B = ...220b: SQ, RS members
--   C, D, E = ...220c/d/e: OW owner
--   OW  ...22e1 pgtap-22-owner       verified, password
--   VE  ...22e2 pgtap-22-verified    verified, password, member of B
--   SQ  ...22e3 pgtap-22-squat       unverified, password, sessions in B
--   RS  ...22e4 pgtap-22-reset       unverified, password, sessions in B, locked out
--   CH  ...22e5 pgtap-22-change      verified, password
--   RC  ...22e6 pgtap-22-race6       verified, password
--   TK  ...22e7 PgTap-22-Taken       holds an address
--   UN  ...22e8 pgtap-22-unverified  unverified, password
--   RE  ...22e9 pgtap-22-resend      no password
--   DI  ...22ea pgtap-22-disabled    disabled
--   VM  ...22eb pgtap-22-verifyme    unverified, password
--   MV  ...22ec pgtap-22-moved       unverified
BEGIN;
SELECT plan(115);

CREATE EXTENSION IF NOT EXISTS dblink;

-- dblink helpers, as in 14_orgs_concurrency_owner.sql.
CREATE FUNCTION pg_temp.connect(p_name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_connect(p_name, format('dbname=%s user=%s host=%s port=%s application_name=%s',
	                                      current_database(), current_user,
	                                      split_part(current_setting('unix_socket_directories'), ',', 1),
	                                      current_setting('port'), p_name));
END
$$;
CREATE FUNCTION pg_temp.remote(p_conn text, p_sql text) RETURNS text LANGUAGE sql AS $$
	SELECT v FROM dblink(p_conn, p_sql) AS t (v text)
$$;
CREATE FUNCTION pg_temp.waits_for_lock(p_pid integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	deadline constant timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
	WHILE clock_timestamp() < deadline LOOP
		PERFORM pg_stat_clear_snapshot();
		IF EXISTS (SELECT FROM pg_stat_activity WHERE pid = p_pid AND wait_event_type = 'Lock') THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN false;
END
$$;
CREATE FUNCTION pg_temp.collect(p_conn text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_value text;
BEGIN
	SELECT t.v INTO v_value FROM dblink_get_result(p_conn) AS t (v text);
	PERFORM * FROM dblink_get_result(p_conn) AS t (v text);
	RETURN v_value;
END
$$;

-- The privileges: the tables and the internal functions are closed to
-- every runtime role.
SELECT is(
	(SELECT coalesce(array_agg(r.rolname || ' ' || t.t ORDER BY 1), '{}')
	   FROM (VALUES ('homebot_app'), ('homebot_admin'), ('homebot_worker')) AS r (rolname),
	        (VALUES ('homebot.email_tokens'), ('homebot.mail_sends')) AS t (t)
	  WHERE has_table_privilege(r.rolname, t.t, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
	     OR has_any_column_privilege(r.rolname, t.t, 'SELECT, INSERT, UPDATE, REFERENCES')),
	'{}'::text[],
	'homebot_app, homebot_admin and homebot_worker have no privilege on email_tokens or mail_sends');
SELECT is(
	(SELECT coalesce(array_agg(r.rolname ORDER BY 1), '{}')
	   FROM (VALUES ('homebot_app'), ('homebot_admin'), ('homebot_worker')) AS r (rolname)
	  WHERE has_sequence_privilege(r.rolname, 'homebot.mail_sends_id_seq', 'USAGE, SELECT, UPDATE')),
	'{}'::text[],
	'nor on mail_sends'' sequence');
SELECT is(
	(SELECT coalesce(array_agg(r.rolname || ' ' || f.f ORDER BY 1), '{}')
	   FROM (VALUES ('homebot_app'), ('homebot_admin'), ('homebot_worker')) AS r (rolname),
	        (VALUES ('homebot.mail_allowed(text, text, integer)'),
	                ('homebot.email_token_issue(uuid, text, text, bytea, integer)'),
	                ('homebot.email_token_take(text, bytea)')) AS f (f)
	  WHERE has_function_privilege(r.rolname, f.f, 'EXECUTE')),
	'{}'::text[],
	'no runtime role may execute mail_allowed, email_token_issue or email_token_take');
SELECT is(
	(SELECT coalesce(array_agg(f.f || ' ' || r.rolname ORDER BY 1), '{}')
	   FROM (VALUES ('homebot_app'), ('homebot_admin'), ('homebot_worker')) AS r (rolname),
	        (VALUES ('homebot.verify_email_issue(uuid, bytea, integer, integer)'),
	                ('homebot.verify_email(bytea, text, text, text)'),
	                ('homebot.email_token_email(text, bytea)'),
	                ('homebot.password_reset(bytea, text, text, text, text)'),
	                ('homebot.email_change_request(uuid, text, text, bytea, integer, integer)'),
	                ('homebot.email_change_confirm(bytea, text, text, text)'),
	                ('homebot.password_changed(uuid, text, text)'),
	                ('homebot.forgot_enqueue(text)'),
	                ('homebot.password_forgot(text, bytea, integer, integer)'),
	                ('homebot.mail_enqueue(jsonb)')) AS f (f)
	  WHERE has_function_privilege(r.rolname, f.f, 'EXECUTE')
	        IS DISTINCT FROM CASE f.f
	            WHEN 'homebot.mail_enqueue(jsonb)' THEN true
	            WHEN 'homebot.password_forgot(text, bytea, integer, integer)' THEN r.rolname = 'homebot_worker'
	            ELSE r.rolname = 'homebot_app' END),
	'{}'::text[],
	'the email functions: homebot_app executes those of the request path, homebot_worker password_forgot (the forgotten-password job), every role mail_enqueue');
SELECT results_eq(
	$$SELECT relrowsecurity, relforcerowsecurity,
	         ARRAY(SELECT polname::text COLLATE "default" FROM pg_policy WHERE polrelid = 'homebot.email_tokens'::regclass ORDER BY 1)
	    FROM pg_class WHERE oid = 'homebot.email_tokens'::regclass$$,
	$$VALUES (true, true, ARRAY['definer_access'])$$,
	'email_tokens: row-level security enabled and forced, definer_access its only policy');
SET LOCAL ROLE homebot_app;
SELECT throws_ok($$SELECT homebot.mail_allowed('pgtap-22-x@example.test', 'verify', 3)$$,
	'42501', 'permission denied for function mail_allowed', 'homebot_app cannot call mail_allowed');
SELECT throws_ok($$SELECT * FROM homebot.email_token_take('verify', sha256('x'))$$,
	'42501', 'permission denied for function email_token_take', 'homebot_app cannot call email_token_take');
SELECT throws_ok($$SELECT * FROM homebot.email_tokens$$,
	'42501', 'permission denied for table email_tokens', 'homebot_app cannot read email_tokens');
RESET ROLE;
SET LOCAL ROLE homebot_worker;
SELECT throws_ok($$SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022e1', 'reset', 'x', sha256('x'), 60)$$,
	'42501', 'permission denied for function email_token_issue', 'homebot_worker cannot call email_token_issue');
RESET ROLE;

-- Seed.
INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000220a', 'Org 22A', 'pgtap-22-a'),
	('00000000-0000-4000-8000-00000000220b', 'Org 22B', 'pgtap-22-b'),
	('00000000-0000-4000-8000-00000000220c', 'Org 22C', 'pgtap-22-c'),
	('00000000-0000-4000-8000-00000000220d', 'Org 22D', 'pgtap-22-d'),
	('00000000-0000-4000-8000-00000000220e', 'Org 22E', 'pgtap-22-e');
INSERT INTO homebot.users (id, email, password_hash, full_name, email_verified_at, disabled_at) VALUES
	('00000000-0000-4000-8000-0000000022e1', 'pgtap-22-owner@example.test', '$2b$04$owner', 'Owner', now() - interval '1 day', NULL),
	('00000000-0000-4000-8000-0000000022e2', 'pgtap-22-verified@example.test', '$2b$04$verified', 'Vera', now() - interval '1 day', NULL),
	('00000000-0000-4000-8000-0000000022e3', 'pgtap-22-squat@example.test', '$2b$04$squat', 'Squatter', NULL, NULL),
	('00000000-0000-4000-8000-0000000022e4', 'pgtap-22-reset@example.test', '$2b$04$reset-old', 'Reset', NULL, NULL),
	('00000000-0000-4000-8000-0000000022e5', 'pgtap-22-change@example.test', '$2b$04$change', 'Change', now() - interval '1 day', NULL),
	('00000000-0000-4000-8000-0000000022e6', 'pgtap-22-race6@example.test', '$2b$04$race6', 'Race', now() - interval '1 day', NULL),
	('00000000-0000-4000-8000-0000000022e7', 'PgTap-22-Taken@Example.test', '$2b$04$taken', 'Taken', NULL, NULL),
	('00000000-0000-4000-8000-0000000022e8', 'pgtap-22-unverified@example.test', '$2b$04$unverified', 'Unverified', NULL, NULL),
	('00000000-0000-4000-8000-0000000022e9', 'pgtap-22-resend@example.test', NULL, '', NULL, NULL),
	('00000000-0000-4000-8000-0000000022ea', 'pgtap-22-disabled@example.test', '$2b$04$disabled', 'Disabled', NULL, now()),
	('00000000-0000-4000-8000-0000000022eb', 'pgtap-22-verifyme@example.test', '$2b$04$verifyme', 'Verify Me', NULL, NULL),
	('00000000-0000-4000-8000-0000000022ec', 'pgtap-22-moved@example.test', '$2b$04$moved', 'Moved', NULL, NULL);
INSERT INTO homebot.memberships (organization_id, user_id, role, status) VALUES
	('00000000-0000-4000-8000-00000000220a', '00000000-0000-4000-8000-0000000022e1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000220c', '00000000-0000-4000-8000-0000000022e1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000220d', '00000000-0000-4000-8000-0000000022e1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000220e', '00000000-0000-4000-8000-0000000022e1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e2', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e3', 'member', 'active'),
	('00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e4', 'member', 'active');
INSERT INTO homebot.sessions (id, organization_id, user_id) VALUES
	('00000000-0000-4000-8000-0000000022c1', '00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e3'),
	('00000000-0000-4000-8000-0000000022c2', '00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e3'),
	('00000000-0000-4000-8000-0000000022c3', '00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e4'),
	('00000000-0000-4000-8000-0000000022c4', '00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e4'),
	('00000000-0000-4000-8000-0000000022c5', '00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e2');
INSERT INTO homebot.login_attempts (email, succeeded)
SELECT 'pgtap-22-reset@example.test', false FROM generate_series(1, 5);
DELETE FROM homebot.mail_sends WHERE email LIKE 'pgtap-22-%';

-- mail_allowed (as the owner): p_max per address and kind an hour, any case.
SELECT is(
	ARRAY[homebot.mail_allowed('PgTap-22-Mail@Example.test', 'verify', 3),
	      homebot.mail_allowed('pgtap-22-mail@example.test', 'verify', 3),
	      homebot.mail_allowed('PGTAP-22-MAIL@EXAMPLE.TEST', 'verify', 3),
	      homebot.mail_allowed('pgtap-22-Mail@example.test', 'verify', 3)],
	ARRAY[true, true, true, false],
	'mail_allowed: three mails of a kind to an address (in any case) an hour, not a fourth');
SELECT is(
	ARRAY[homebot.mail_allowed('pgtap-22-mail@example.test', 'reset', 3),
	      homebot.mail_allowed('pgtap-22-other@example.test', 'verify', 3)],
	ARRAY[true, true],
	'mail_allowed: another kind to that address, or that kind to another address, is counted apart');
SELECT results_eq(
	$$SELECT email, kind, count(*)::int FROM homebot.mail_sends WHERE email LIKE 'pgtap-22-%' GROUP BY 1, 2 ORDER BY 1, 2$$,
	$$VALUES ('pgtap-22-mail@example.test'::text, 'reset'::text, 1), ('pgtap-22-mail@example.test', 'verify', 3),
	         ('pgtap-22-other@example.test', 'verify', 1)$$,
	'mail_allowed: only allowed mails are counted, under the lower-case address');
SELECT is(ARRAY[homebot.mail_allowed('pgtap-22-one@example.test', 'invite', 1),
                homebot.mail_allowed('pgtap-22-one@example.test', 'invite', 1)],
	ARRAY[true, false], 'mail_allowed: exactly p_max (here 1)');
INSERT INTO homebot.mail_sends (email, kind, sent_at)
SELECT 'pgtap-22-old@example.test', 'verify', now() - interval '61 minutes' FROM generate_series(1, 3);
SELECT is(homebot.mail_allowed('pgtap-22-old@example.test', 'verify', 3), true,
	'mail_allowed: mails older than an hour do not count');
SELECT is((SELECT count(*)::int FROM homebot.mail_sends WHERE email = 'pgtap-22-old@example.test'), 1,
	'mail_allowed: and are deleted as the address is counted');

-- Two requests at once for one address: the second waits, then is refused.
SELECT pg_temp.connect('pgtap22a');
SELECT pg_temp.connect('pgtap22b');
CREATE TEMP TABLE pids AS
SELECT (SELECT pid FROM dblink('pgtap22b', 'SELECT pg_backend_pid()') AS t (pid integer)) AS b;
SELECT dblink_exec('pgtap22a', $$DELETE FROM homebot.mail_sends WHERE email LIKE 'pgtap-22-race-%'$$);
SELECT dblink_exec('pgtap22a', 'BEGIN');
SELECT dblink_exec('pgtap22b', 'BEGIN');
SELECT is(pg_temp.remote('pgtap22a', $$SELECT homebot.mail_allowed('pgtap-22-race-1@example.test', 'reset', 1)::text$$),
	'true', 'mail race: the first request may mail (not committed yet)');
SELECT dblink_send_query('pgtap22b', $$SELECT homebot.mail_allowed('PGTAP-22-race-1@example.test', 'reset', 1)::text$$);
SELECT ok(pg_temp.waits_for_lock((SELECT b FROM pids)), 'mail race: the second request for the address waits for it');
SELECT dblink_exec('pgtap22a', 'COMMIT');
SELECT is(pg_temp.collect('pgtap22b'), 'false', 'mail race: once it commits, the second is refused');
SELECT dblink_exec('pgtap22b', 'COMMIT');
SELECT dblink_exec('pgtap22a', $$DELETE FROM homebot.mail_sends WHERE email LIKE 'pgtap-22-race-%'$$);
SELECT dblink_disconnect('pgtap22a');
SELECT dblink_disconnect('pgtap22b');

-- email_token_issue and email_token_take (as the owner).
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022e3', 'verify', 'pgtap-22-squat@example.test',
                                 sha256('pgtap-22-tv1'), 3600);
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022e3', 'reset', 'pgtap-22-squat@example.test',
                                 sha256('pgtap-22-tr1'), 3600);
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022e3', 'verify', 'pgtap-22-squat@example.test',
                                 sha256('pgtap-22-tv2'), 3600);
SELECT results_eq(
	$$SELECT token_hash, kind, used_at IS NOT NULL, expires_at FROM homebot.email_tokens
	   WHERE user_id = '00000000-0000-4000-8000-0000000022e3' ORDER BY kind, used_at NULLS LAST$$,
	$$VALUES (sha256('pgtap-22-tr1'), 'reset'::text, false, now() + interval '3600 seconds'),
	         (sha256('pgtap-22-tv1'), 'verify', true, now() + interval '3600 seconds'),
	         (sha256('pgtap-22-tv2'), 'verify', false, now() + interval '3600 seconds')$$,
	'email_token_issue: a new verify token voids the older verify token, not the reset token; each expires after its TTL');
SELECT is((homebot.email_token_take('verify', sha256('pgtap-22-tv1'))).id, NULL,
	'email_token_take: a voided token is not taken');
SELECT is((homebot.email_token_take('verify', sha256('pgtap-22-tv2'))).user_id, '00000000-0000-4000-8000-0000000022e3'::uuid,
	'email_token_take: the live token is taken, with its user');
SELECT is((homebot.email_token_take('reset', sha256('pgtap-22-tv2'))).id, NULL,
	'email_token_take: a token is only good for its kind');
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022e3', 'email_change', 'pgtap-22-elsewhere@example.test',
                                 sha256('pgtap-22-tx'), 0);
SELECT is((homebot.email_token_take('email_change', sha256('pgtap-22-tx'))).id, NULL,
	'email_token_take: an expired token is not taken');
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022ea', 'reset', 'pgtap-22-disabled@example.test',
                                 sha256('pgtap-22-tdis'), 3600);
SELECT is((homebot.email_token_take('reset', sha256('pgtap-22-tdis'))).id, NULL,
	'email_token_take: a disabled user''s token is not taken');
-- A verification link dies with the address it went to.
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022ec', 'verify', 'pgtap-22-moved@example.test',
                                 sha256('pgtap-22-tmoved'), 3600);
UPDATE homebot.users SET email = 'pgtap-22-moved-away@example.test' WHERE id = '00000000-0000-4000-8000-0000000022ec';
SELECT is((homebot.email_token_take('verify', sha256('pgtap-22-tmoved'))).id, NULL,
	'email_token_take: a verify token is dead once the user''s address is no longer the one it went to');

-- verify_email_issue and verify_email, as the request path calls them.
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.verify_email_issue('00000000-0000-4000-8000-0000000022eb', sha256('pgtap-22-v1'), 86400, 2)$$,
	$$VALUES ('sent'::text, 'pgtap-22-verifyme@example.test'::text)$$,
	'verify_email_issue: an unverified user → sent, to the stored address');
SELECT results_eq(
	$$SELECT * FROM homebot.verify_email_issue('00000000-0000-4000-8000-0000000022e2', sha256('pgtap-22-v-verified'), 86400, 2)$$,
	$$VALUES ('already_verified'::text, NULL::text)$$,
	'verify_email_issue: a verified user → already_verified');
SELECT is((SELECT status FROM homebot.verify_email_issue('00000000-0000-4000-8000-0000000022eb', sha256('pgtap-22-v2'), 86400, 2)),
	'sent', 'verify_email_issue: a second link within the limit');
SELECT is((SELECT status FROM homebot.verify_email_issue('00000000-0000-4000-8000-0000000022eb', sha256('pgtap-22-v3'), 86400, 2)),
	'limited', 'verify_email_issue: past the limit → limited');
RESET ROLE;
SELECT results_eq(
	$$SELECT token_hash, used_at IS NULL FROM homebot.email_tokens
	   WHERE user_id IN ('00000000-0000-4000-8000-0000000022eb', '00000000-0000-4000-8000-0000000022e2') ORDER BY 2, 1$$,
	$$SELECT * FROM (VALUES (sha256('pgtap-22-v1'), false), (sha256('pgtap-22-v2'), true)) AS v (h, live) ORDER BY 2, 1$$,
	'verify_email_issue: the second link voided the first; already_verified and limited issued nothing (and voided nothing)');
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.verify_email(sha256('pgtap-22-v1'), '192.0.2.22', 'pgtap-agent', 'pgtap-22-verify-old')$$,
	$$VALUES ('invalid'::text, NULL::uuid, NULL::text, NULL::text, NULL::boolean)$$,
	'verify_email: a voided link → invalid, every other column NULL');
SELECT results_eq(
	$$SELECT * FROM homebot.verify_email(sha256('pgtap-22-v2'), '192.0.2.22', 'pgtap-agent', 'pgtap-22-verify')$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-0000000022eb'::uuid, 'pgtap-22-verifyme@example.test'::text,
	          'Verify Me'::text, true)$$,
	'verify_email: the live link → ok, the user, verified');
SELECT is((SELECT status FROM homebot.verify_email(sha256('pgtap-22-v2'), NULL, NULL, 'pgtap-22-verify-again')),
	'invalid', 'verify_email: the same link again → invalid (single use)');
RESET ROLE;
SELECT results_eq(
	$$SELECT u.email_verified_at, t.used_at FROM homebot.users u JOIN homebot.email_tokens t ON t.user_id = u.id
	   WHERE t.token_hash = sha256('pgtap-22-v2')$$,
	$$VALUES (now(), now())$$,
	'verify_email: email_verified_at is set and the token used');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_type, target_id, ip, user_agent, changes FROM homebot.audit_log
	   WHERE action = 'auth.email.verified' AND request_id LIKE 'pgtap-22-verify%'$$,
	$$VALUES (NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000022eb'::uuid, 'user'::text,
	          '00000000-0000-4000-8000-0000000022eb'::text, '192.0.2.22'::text, 'pgtap-agent'::text,
	          '{"email": "pgtap-22-verifyme@example.test"}'::jsonb)$$,
	'verify_email: auth.email.verified once, a platform event by the user, with the request''s IP and user agent');

-- password_forgot, as homebot-worker runs it.
SET LOCAL ROLE homebot_worker;
SELECT results_eq(
	$$SELECT * FROM homebot.password_forgot('pgtap-22-nobody@example.test', sha256('pgtap-22-r-nobody'), 3600, 2)$$,
	$$VALUES ('none'::text, NULL::text)$$,
	'password_forgot: an unknown address → none');
SELECT results_eq(
	$$SELECT * FROM homebot.password_forgot('pgtap-22-disabled@example.test', sha256('pgtap-22-r-disabled'), 3600, 2)$$,
	$$VALUES ('none'::text, NULL::text)$$,
	'password_forgot: a disabled account → none');
SELECT results_eq(
	$$SELECT * FROM homebot.password_forgot(E' PGTAP-22-Reset@example.test\t', sha256('pgtap-22-r1'), 3600, 2)$$,
	$$VALUES ('sent'::text, 'pgtap-22-reset@example.test'::text)$$,
	'password_forgot: an account (address padded, in another case) → sent, to the stored address');
SELECT is((SELECT status FROM homebot.password_forgot('pgtap-22-reset@example.test', sha256('pgtap-22-r2'), 3600, 2)),
	'sent', 'password_forgot: a second link within the limit');
SELECT results_eq(
	$$SELECT * FROM homebot.password_forgot('pgtap-22-reset@example.test', sha256('pgtap-22-r3'), 3600, 2)$$,
	$$VALUES ('limited'::text, NULL::text)$$,
	'password_forgot: past the limit → limited');
RESET ROLE;
SELECT results_eq(
	$$SELECT token_hash, kind, used_at IS NULL FROM homebot.email_tokens
	   WHERE token_hash IN (sha256('pgtap-22-r-nobody'), sha256('pgtap-22-r-disabled'), sha256('pgtap-22-r1'),
	                        sha256('pgtap-22-r2'), sha256('pgtap-22-r3'))
	   ORDER BY 3, 1$$,
	$$SELECT * FROM (VALUES (sha256('pgtap-22-r1'), 'reset'::text, false), (sha256('pgtap-22-r2'), 'reset', true)) AS v (h, k, live)
	   ORDER BY 3, 1$$,
	'password_forgot: tokens only for sent (the newer voiding the older); none for none or limited');
SELECT is((SELECT count(*)::int FROM homebot.mail_sends WHERE email IN ('pgtap-22-nobody@example.test', 'pgtap-22-disabled@example.test')),
	0, 'password_forgot: none counts no mail');

-- password_reset of RS: a second live reset token (as a concurrent
-- request could leave), sessions, a lockout.
INSERT INTO homebot.email_tokens (user_id, kind, email, token_hash, expires_at) VALUES
	('00000000-0000-4000-8000-0000000022e4', 'reset', 'pgtap-22-reset@example.test', sha256('pgtap-22-r-extra'),
	 now() + interval '1 hour');
SET LOCAL ROLE homebot_app;
SELECT cmp_ok((SELECT retry_after FROM homebot.login_lookup('pgtap-22-reset@example.test', 5, 900, NULL)), '>', 0,
	'precondition: RS''s address is locked out');
SELECT throws_ok($$SELECT * FROM homebot.password_reset(sha256('pgtap-22-r2'), NULL, NULL, NULL, NULL)$$,
	'22004', 'password_reset: a password hash is required', 'password_reset without a password hash raises');
SELECT results_eq(
	$$SELECT * FROM homebot.password_reset(sha256('pgtap-22-r1'), '$2b$04$reset-new', NULL, NULL, 'pgtap-22-reset-old')$$,
	$$VALUES ('invalid'::text, NULL::uuid)$$,
	'password_reset: a voided link → invalid');
SELECT results_eq(
	$$SELECT * FROM homebot.password_reset(sha256('pgtap-22-r2'), '$2b$04$reset-new', '192.0.2.23', 'pgtap-agent', 'pgtap-22-reset')$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-0000000022e4'::uuid)$$,
	'password_reset: the live link → ok, the user');
SELECT is((SELECT status FROM homebot.password_reset(sha256('pgtap-22-r-extra'), '$2b$04$reset-evil', NULL, NULL, NULL)),
	'invalid', 'password_reset: every other reset link of the user is used up with it');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-22-reset@example.test', 5, 900, NULL)), 0,
	'password_reset: the lockout is cleared');
RESET ROLE;
SELECT results_eq(
	$$SELECT password_hash, email_verified_at FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000022e4'$$,
	$$VALUES ('$2b$04$reset-new'::text, now())$$,
	'password_reset: the password is set and the address verified');
SELECT results_eq(
	$$SELECT id, revoked_at FROM homebot.sessions WHERE user_id = '00000000-0000-4000-8000-0000000022e4' ORDER BY id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000022c3'::uuid, now()), ('00000000-0000-4000-8000-0000000022c4'::uuid, now())$$,
	'password_reset: every session of the user is revoked');
SELECT is((SELECT count(*)::int FROM homebot.email_tokens WHERE user_id = '00000000-0000-4000-8000-0000000022e4'
	         AND kind = 'reset' AND used_at IS NULL), 0, 'password_reset: no reset token of the user is left');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_id, ip, changes FROM homebot.audit_log
	   WHERE action = 'auth.password.reset' AND request_id LIKE 'pgtap-22-reset%'$$,
	$$VALUES (NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000022e4'::uuid,
	          '00000000-0000-4000-8000-0000000022e4'::text, '192.0.2.23'::text,
	          '{"email": "pgtap-22-reset@example.test", "sessions_revoked": 2}'::jsonb)$$,
	'password_reset: auth.password.reset once, by the user, with the number of sessions it ended');

-- email_change_request and email_change_confirm.
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.email_change_request('00000000-0000-4000-8000-0000000022e5', '$2b$04$change',
	                                             'pgtap-22-TAKEN@example.TEST', sha256('pgtap-22-c-taken'), 86400, 3)$$,
	$$VALUES ('email_taken'::text, NULL::text, NULL::text, false)$$,
	'email_change_request: an address another account holds (in another case) → email_taken');
SELECT results_eq(
	$$SELECT * FROM homebot.email_change_request('00000000-0000-4000-8000-0000000022e5', '$2b$04$stale',
	                                             'pgtap-22-new5@example.test', sha256('pgtap-22-c-stale'), 86400, 3)$$,
	$$VALUES ('password_changed'::text, NULL::text, NULL::text, false)$$,
	'email_change_request: a password hash that is no longer the user''s → password_changed');
SELECT is((SELECT status FROM homebot.email_change_request('00000000-0000-4000-8000-0000000022e5', '$2b$04$change',
	                                                       'pgtap-22-limited@example.test', sha256('pgtap-22-c-limited'), 86400, 0)),
	'limited', 'email_change_request: past the limit of mails to the new address → limited');
SELECT results_eq(
	$$SELECT * FROM homebot.email_change_request('00000000-0000-4000-8000-0000000022e5', '$2b$04$change',
	                                             ' pgtap-22-New5@example.test ', sha256('pgtap-22-c1'), 86400, 3)$$,
	$$VALUES ('sent'::text, 'pgtap-22-change@example.test'::text, 'pgtap-22-New5@example.test'::text, true)$$,
	'email_change_request: → sent, the old address and the new one (trimmed, case kept), a notice allowed');
RESET ROLE;
SELECT results_eq(
	$$SELECT kind, count(*)::int FROM homebot.mail_sends WHERE email = 'pgtap-22-change@example.test' GROUP BY kind$$,
	$$VALUES ('email_notice'::text, 1)$$,
	'email_change_request: the notice counts against the old address''s own limit');
SELECT results_eq(
	$$SELECT token_hash, kind, email FROM homebot.email_tokens WHERE user_id = '00000000-0000-4000-8000-0000000022e5'$$,
	$$VALUES (sha256('pgtap-22-c1'), 'email_change'::text, 'pgtap-22-New5@example.test'::text)$$,
	'email_change_request: one token, for the new address; the refusals issued none');
-- CH has live verify and reset links to the old address.
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022e5', 'verify', 'pgtap-22-change@example.test',
                                 sha256('pgtap-22-c-verify'), 3600);
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022e5', 'reset', 'pgtap-22-change@example.test',
                                 sha256('pgtap-22-c-reset'), 3600);
-- And a pending invitation, sent to the old address.
INSERT INTO homebot.memberships (organization_id, user_id, role, status, invited_email) VALUES
	('00000000-0000-4000-8000-00000000220a', '00000000-0000-4000-8000-0000000022e5', 'admin', 'invited',
	 'pgtap-22-change@example.test');
INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at) VALUES
	('00000000-0000-4000-8000-00000000220a', '00000000-0000-4000-8000-0000000022e5', sha256('pgtap-22-c-inv'),
	 now() + interval '1 day');
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.email_change_confirm(sha256('pgtap-22-c1'), '192.0.2.24', 'pgtap-agent', 'pgtap-22-change')$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-0000000022e5'::uuid, 'pgtap-22-New5@example.test'::text,
	          'Change'::text, true)$$,
	'email_change_confirm: → ok, the user with the new address, verified');
SELECT is((SELECT status FROM homebot.email_change_confirm(sha256('pgtap-22-c1'), NULL, NULL, NULL)),
	'invalid', 'email_change_confirm: the same link again → invalid');
RESET ROLE;
SELECT results_eq(
	$$SELECT email, email_verified_at FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000022e5'$$,
	$$VALUES ('pgtap-22-New5@example.test'::text, now())$$,
	'email_change_confirm: the address is changed and verified now');
SELECT results_eq(
	$$SELECT kind, count(*)::int FROM homebot.email_tokens
	   WHERE user_id = '00000000-0000-4000-8000-0000000022e5' AND used_at IS NULL GROUP BY kind$$,
	$$SELECT NULL::text, NULL::int WHERE false$$,
	'email_change_confirm: the token and the verify and reset links sent to the old address are used up');
SELECT is_empty(
	$$SELECT FROM homebot.memberships WHERE user_id = '00000000-0000-4000-8000-0000000022e5' AND status = 'invited'$$,
	'email_change_confirm: the invitations sent to the old address are withdrawn with their memberships');
SELECT results_eq(
	$$SELECT organization_id, actor_id, target_id, changes FROM homebot.audit_log
	   WHERE action = 'auth.email.changed' AND request_id = 'pgtap-22-change'$$,
	$$VALUES (NULL::uuid, '00000000-0000-4000-8000-0000000022e5'::uuid, '00000000-0000-4000-8000-0000000022e5'::text,
	          '{"from": "pgtap-22-change@example.test", "to": "pgtap-22-New5@example.test"}'::jsonb)$$,
	'email_change_confirm: auth.email.changed, from and to');
-- Taken meanwhile.
SET LOCAL ROLE homebot_app;
SELECT is((SELECT status FROM homebot.email_change_request('00000000-0000-4000-8000-0000000022e6', '$2b$04$race6',
	                                                       'pgtap-22-wanted@example.test', sha256('pgtap-22-c6'), 86400, 3)),
	'sent', 'precondition: RC asks for a free address');
RESET ROLE;
INSERT INTO homebot.users (email) VALUES ('PGTAP-22-Wanted@example.test');
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.email_change_confirm(sha256('pgtap-22-c6'), NULL, NULL, 'pgtap-22-change-taken')$$,
	$$VALUES ('email_taken'::text, NULL::uuid, NULL::text, NULL::text, NULL::boolean)$$,
	'email_change_confirm: an address another account took meanwhile (in another case) → email_taken');
RESET ROLE;
SELECT results_eq(
	$$SELECT u.email, t.used_at FROM homebot.users u JOIN homebot.email_tokens t ON t.user_id = u.id
	   WHERE t.token_hash = sha256('pgtap-22-c6')$$,
	$$VALUES ('pgtap-22-race6@example.test'::text, NULL::timestamptz)$$,
	'email_change_confirm email_taken: the address is unchanged and the token not used');

-- invite_member always invites, a verified account too.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000220a', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000022e1', true),
       set_config('app.request_id', 'pgtap-22-invite', true);
SELECT results_eq(
	$$SELECT status, user_id, member_status, _mail
	    FROM homebot.invite_member('pgtap-22-verified@example.test', 'member', sha256('pgtap-22-i-ve-a'), 604800, 3)$$,
	$$VALUES ('invited'::text, '00000000-0000-4000-8000-0000000022e2'::uuid, 'invited'::text, true)$$,
	'invite_member: an existing verified account is invited, not added');
SELECT is((SELECT _mail FROM homebot.invite_member('pgtap-22-squat@example.test', 'member', sha256('pgtap-22-i-sq'), 604800, 0)),
	false, 'invite_member: past the hour''s limit the invitation is made but not to be mailed');
SELECT is((SELECT status FROM homebot.invite_member('pgtap-22-unverified@example.test', 'member', sha256('pgtap-22-i-un'), 604800, 3)),
	'invited', 'invite_member: an unverified account with a password is invited too');
SELECT is((SELECT status FROM homebot.invite_member('pgtap-22-resend@example.test', 'viewer', sha256('pgtap-22-i-re1'), 604800, 3)),
	'invited', 'invite_member: a new address is invited');
-- VE is invited into C, D and E as well (D: to be accepted by id; E: expired).
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000220c', true);
SELECT is((SELECT status FROM homebot.invite_member('pgtap-22-verified@example.test', 'admin', sha256('pgtap-22-i-ve-c'), 604800, 3)),
	'invited', 'invite_member: VE into C');
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000220d', true);
SELECT is((SELECT status FROM homebot.invite_member('pgtap-22-verified@example.test', 'viewer', sha256('pgtap-22-i-ve-d'), 604800, 3)),
	'invited', 'invite_member: VE into D');
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000220e', true);
SELECT is((SELECT status FROM homebot.invite_member('pgtap-22-verified@example.test', 'viewer', sha256('pgtap-22-i-ve-e'), 0, 3)),
	'invited', 'invite_member: VE into E (an invitation that expires at once)');
SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true), set_config('app.request_id', '', true);
RESET ROLE;
SELECT results_eq(
	$$SELECT m.organization_id, m.status, u.password_hash, u.email_verified_at IS NOT NULL
	    FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
	   WHERE m.user_id = '00000000-0000-4000-8000-0000000022e2' ORDER BY 1$$,
	$$VALUES ('00000000-0000-4000-8000-00000000220a'::uuid, 'invited'::text, '$2b$04$verified'::text, true),
	         ('00000000-0000-4000-8000-00000000220b', 'active', '$2b$04$verified', true),
	         ('00000000-0000-4000-8000-00000000220c', 'invited', '$2b$04$verified', true),
	         ('00000000-0000-4000-8000-00000000220d', 'invited', '$2b$04$verified', true),
	         ('00000000-0000-4000-8000-00000000220e', 'invited', '$2b$04$verified', true)$$,
	'invite_member: VE''s new memberships are all invited; the account is untouched');

-- user_invitations: only the live ones.
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT organization ->> 'slug', role, invited_by FROM homebot.user_invitations('00000000-0000-4000-8000-0000000022e2', NULL, NULL, 50)
	   ORDER BY 1$$,
	$$VALUES ('pgtap-22-a'::text, 'member'::text, '00000000-0000-4000-8000-0000000022e1'::uuid),
	         ('pgtap-22-c', 'admin', '00000000-0000-4000-8000-0000000022e1'),
	         ('pgtap-22-d', 'viewer', '00000000-0000-4000-8000-0000000022e1')$$,
	'user_invitations: VE''s live invitations (A, C, D), not the expired one (E) nor his membership of B');
RESET ROLE;

-- accept_invite: a verified account must prove itself.
CREATE TEMP TABLE counts_ve AS
SELECT (SELECT count(*) FROM homebot.sessions) AS sessions, (SELECT count(*) FROM homebot.audit_log) AS events,
       (SELECT count(*) FROM homebot.invitations WHERE used_at IS NOT NULL) AS used,
       (SELECT count(*) FROM homebot.memberships WHERE status = 'active') AS active;
SET LOCAL ROLE homebot_app;
SELECT is(
	ARRAY(SELECT r.status
	        FROM (VALUES (1, NULL::uuid, NULL::text, NULL::text),
	                     (2, NULL, '$2b$04$chosen', NULL),
	                     (3, '00000000-0000-4000-8000-0000000022e1', NULL, NULL),
	                     (4, NULL, NULL, '$2b$04$wrong')) AS c (n, usr, pw, verified),
	             homebot.accept_invite(sha256('pgtap-22-i-ve-a'), NULL, c.usr, c.pw, c.verified, NULL, NULL, NULL,
	                                   'pgtap-22-accept-refused', sha256(convert_to('pgtap-22-ar' || c.n, 'UTF8')), 3600) AS r
	       ORDER BY c.n),
	ARRAY['credentials', 'credentials', 'credentials', 'credentials'],
	'accept_invite, a verified account: no proof, a new password, another user''s token or a wrong password hash → credentials');
RESET ROLE;
SELECT is(
	(SELECT row((SELECT count(*) FROM homebot.sessions), (SELECT count(*) FROM homebot.audit_log),
	            (SELECT count(*) FROM homebot.invitations WHERE used_at IS NOT NULL),
	            (SELECT count(*) FROM homebot.memberships WHERE status = 'active'))::text),
	(SELECT row(sessions, events, used, active)::text FROM counts_ve),
	'accept_invite credentials: nothing is written (no session, event, used invitation or active membership)');
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT status, organization_id, email_verified FROM homebot.accept_invite(sha256('pgtap-22-i-ve-a'), NULL, NULL, NULL,
	      '$2b$04$verified', NULL, '192.0.2.25', NULL, 'pgtap-22-accept-ve-a', sha256('pgtap-22-ar-ok'), 3600)$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-00000000220a'::uuid, true)$$,
	'accept_invite, a verified account with its own password hash → ok in A');
SELECT results_eq(
	$$SELECT status, organization_id FROM homebot.accept_invite(sha256('pgtap-22-i-ve-c'), NULL,
	      '00000000-0000-4000-8000-0000000022e2', NULL, NULL, NULL, NULL, NULL, 'pgtap-22-accept-ve-c',
	      sha256('pgtap-22-ar-c'), 3600)$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-00000000220c'::uuid)$$,
	'accept_invite, a verified account as p_user (its access token) → ok in C');
RESET ROLE;
SELECT results_eq(
	$$SELECT u.password_hash, (SELECT revoked_at FROM homebot.sessions WHERE id = '00000000-0000-4000-8000-0000000022c5'),
	         (SELECT count(*)::int FROM homebot.memberships m WHERE m.user_id = u.id AND m.status = 'active'),
	         (SELECT count(*)::int FROM homebot.login_attempts a WHERE a.email = lower(u.email) AND a.succeeded)
	    FROM homebot.users u WHERE u.id = '00000000-0000-4000-8000-0000000022e2'$$,
	$$VALUES ('$2b$04$verified'::text, NULL::timestamptz, 3, 1)$$,
	'accept_invite, verified: the password and the sessions stay, A and C are active; the password check ended the lockout count');
SELECT results_eq(
	$$SELECT a.request_id, a.organization_id, a.actor_id, a.target_id FROM homebot.audit_log a
	   WHERE a.action = 'member.invite_accepted' AND a.request_id LIKE 'pgtap-22-accept-ve-%' ORDER BY a.request_id$$,
	$$VALUES ('pgtap-22-accept-ve-a'::text, '00000000-0000-4000-8000-00000000220a'::uuid,
	          '00000000-0000-4000-8000-0000000022e2'::uuid, '00000000-0000-4000-8000-0000000022e2'::text),
	         ('pgtap-22-accept-ve-c', '00000000-0000-4000-8000-00000000220c',
	          '00000000-0000-4000-8000-0000000022e2', '00000000-0000-4000-8000-0000000022e2')$$,
	'accept_invite: member.invite_accepted in the organization, by the user');
SELECT is_empty($$SELECT * FROM homebot.audit_log WHERE action = 'auth.email.verified' AND request_id LIKE 'pgtap-22-accept-ve-%'$$,
	'accept_invite: an already verified address is not verified again');

-- accept_invite by invitation id: only the invited, verified user.
CREATE TEMP TABLE inv_ids AS
SELECT i.id, i.token_hash FROM homebot.invitations i
 WHERE i.token_hash IN (sha256('pgtap-22-i-ve-d'), sha256('pgtap-22-i-un'));
GRANT SELECT ON inv_ids TO homebot_app;
SET LOCAL ROLE homebot_app;
SELECT is((SELECT status FROM homebot.accept_invite(NULL, (SELECT id FROM inv_ids WHERE token_hash = sha256('pgtap-22-i-ve-d')),
	                                                 '00000000-0000-4000-8000-0000000022e1', NULL, NULL, NULL, NULL, NULL,
	                                                 'pgtap-22-byid-other', sha256('pgtap-22-ar-d1'), 3600)),
	'invalid', 'accept_invite by id: another user than the invited one → invalid');
SELECT is((SELECT status FROM homebot.accept_invite(NULL, (SELECT id FROM inv_ids WHERE token_hash = sha256('pgtap-22-i-un')),
	                                                 '00000000-0000-4000-8000-0000000022e8', '$2b$04$chosen', NULL, NULL,
	                                                 NULL, NULL, 'pgtap-22-byid-unverified', sha256('pgtap-22-ar-u1'), 3600)),
	'email_not_verified', 'accept_invite by id: the invited user, unverified → email_not_verified');
SELECT results_eq(
	$$SELECT status, organization_id, role FROM homebot.accept_invite(NULL,
	      (SELECT id FROM inv_ids WHERE token_hash = sha256('pgtap-22-i-ve-d')), '00000000-0000-4000-8000-0000000022e2',
	      NULL, NULL, NULL, NULL, NULL, 'pgtap-22-byid', sha256('pgtap-22-ar-d2'), 3600)$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-00000000220d'::uuid, 'viewer'::text)$$,
	'accept_invite by id: the invited, verified user → ok');
RESET ROLE;
SELECT results_eq(
	$$SELECT u.password_hash, u.email_verified_at, m.status FROM homebot.users u
	    JOIN homebot.memberships m ON m.user_id = u.id AND m.organization_id = '00000000-0000-4000-8000-00000000220a'
	   WHERE u.id = '00000000-0000-4000-8000-0000000022e8'$$,
	$$VALUES ('$2b$04$unverified'::text, NULL::timestamptz, 'invited'::text)$$,
	'accept_invite email_not_verified: nothing is written (password, verification, membership)');

-- accept_invite: an unverified account (SQ, with a password and two
-- sessions) is taken over by the holder of the invitation.
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT status, num_nulls(user_id, session_id, organization_id, org_name, org_slug, role, email, full_name,
	                           email_verified)
	    FROM homebot.accept_invite(sha256('pgtap-22-i-sq'), NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	                               'pgtap-22-accept-sq-nopw', sha256('pgtap-22-ar-sq0'), 3600)$$,
	$$VALUES ('password_required'::text, 9)$$,
	'accept_invite, an unverified account without a password hash → password_required');
RESET ROLE;
SELECT results_eq(
	$$SELECT u.password_hash, u.email_verified_at,
	         (SELECT count(*)::int FROM homebot.sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL)
	    FROM homebot.users u WHERE u.id = '00000000-0000-4000-8000-0000000022e3'$$,
	$$VALUES ('$2b$04$squat'::text, NULL::timestamptz, 2)$$,
	'accept_invite password_required: nothing is written');
SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE accepted_sq AS
SELECT * FROM homebot.accept_invite(sha256('pgtap-22-i-sq'), NULL, NULL, '$2b$04$owner-of-mailbox', NULL, 'Real Name',
                                    '192.0.2.26', 'pgtap-agent', 'pgtap-22-accept-sq', sha256('pgtap-22-ar-sq'), 3600);
SELECT results_eq(
	$$SELECT status, user_id, organization_id, full_name, email_verified FROM accepted_sq$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-0000000022e3'::uuid, '00000000-0000-4000-8000-00000000220a'::uuid,
	          'Real Name'::text, true)$$,
	'accept_invite, an unverified account with a password hash → ok');
RESET ROLE;
SELECT results_eq(
	$$SELECT password_hash, email_verified_at FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000022e3'$$,
	$$VALUES ('$2b$04$owner-of-mailbox'::text, now())$$,
	'accept_invite, unverified: the acceptance''s password becomes the account''s, the address verified');
SELECT results_eq(
	$$SELECT s.id = (SELECT session_id FROM accepted_sq), s.revoked_at IS NULL FROM homebot.sessions s
	   WHERE s.user_id = '00000000-0000-4000-8000-0000000022e3' ORDER BY 1, 2$$,
	$$VALUES (false, false), (false, false), (true, true)$$,
	'accept_invite, unverified: every earlier session is revoked; only the acceptance''s own is open');
SELECT set_eq(
	$$SELECT action FROM homebot.audit_log WHERE request_id = 'pgtap-22-accept-sq' AND action NOT LIKE 'row.%'$$,
	$$VALUES ('auth.email.verified'), ('member.invite_accepted'), ('member.added')$$,
	'accept_invite, unverified: audits auth.email.verified, member.invite_accepted and member.added');

-- resend_invite: a new invitation voids the older ones.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000220a', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000022e1', true),
       set_config('app.request_id', 'pgtap-22-resend', true);
SELECT results_eq(
	$$SELECT * FROM homebot.resend_invite('00000000-0000-4000-8000-0000000022e9', sha256('pgtap-22-i-re2'), 604800, 3)$$,
	$$VALUES ('sent'::text, 'pgtap-22-resend@example.test'::text, 'Org 22A'::text, 'Owner'::text)$$,
	'resend_invite: an invited member → sent, with what the mail needs');
SELECT is((SELECT status FROM homebot.resend_invite('00000000-0000-4000-8000-0000000022e1', sha256('pgtap-22-i-re-x'), 604800, 3)),
	'already_member', 'resend_invite: an active member → already_member');
SELECT is((SELECT status FROM homebot.resend_invite('00000000-0000-4000-8000-0000000022e4', sha256('pgtap-22-i-re-y'), 604800, 3)),
	'not_found', 'resend_invite: no membership here → not_found');
SELECT is((SELECT status FROM homebot.resend_invite('00000000-0000-4000-8000-0000000022e9', sha256('pgtap-22-i-re-z'), 604800, 0)),
	'limited', 'resend_invite: past the limit → limited');
SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true), set_config('app.request_id', '', true);
SELECT is_empty($$SELECT * FROM homebot.invitation_lookup(sha256('pgtap-22-i-re1'))$$,
	'resend_invite: the older invitation is void');
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-22-i-re1'), NULL, NULL, '$2b$04$resend', NULL, NULL, NULL,
	                                                 NULL, 'pgtap-22-accept-re1', sha256('pgtap-22-ar-re1'), 3600)),
	'invalid', 'resend_invite: the older invitation can no longer be accepted');
RESET ROLE;
SELECT results_eq(
	$$SELECT token_hash FROM homebot.invitations
	   WHERE user_id = '00000000-0000-4000-8000-0000000022e9' AND used_at IS NULL AND expires_at > now()$$,
	$$VALUES (sha256('pgtap-22-i-re2'))$$,
	'resend_invite: the new invitation is the only live one; limited and the refusals made none');
SELECT results_eq(
	$$SELECT organization_id, target_id, changes FROM homebot.audit_log WHERE action = 'member.invited' AND request_id = 'pgtap-22-resend'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000220a'::uuid, '00000000-0000-4000-8000-0000000022e9'::text,
	          '{"email": "pgtap-22-resend@example.test", "role": "viewer", "resent": true}'::jsonb)$$,
	'resend_invite: member.invited, resent, once');

-- mail_enqueue: a platform mail job.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000220a', true);
CREATE TEMP TABLE job AS SELECT homebot.mail_enqueue('{"to": "pgtap-22-mail@example.test", "template": "verify"}') AS id;
SELECT is_empty($$SELECT * FROM homebot.jobs WHERE id = (SELECT id FROM job)$$,
	'mail_enqueue: the job is in no organization''s job list');
SELECT set_config('app.org_id', '', true);
RESET ROLE;
SELECT results_eq(
	$$SELECT organization_id, kind, payload, status FROM homebot.jobs WHERE id = (SELECT id FROM job)$$,
	$$VALUES (NULL::uuid, 'mail'::text, '{"to": "pgtap-22-mail@example.test", "template": "verify"}'::jsonb, 'queued'::text)$$,
	'mail_enqueue: a queued platform job (no organization) of kind mail, with the payload');

-- The answers that carry email_verified.
SET LOCAL ROLE homebot_app;
SELECT is((SELECT email_verified FROM homebot.login_start('00000000-0000-4000-8000-0000000022e4', NULL, NULL, NULL, NULL,
	                                                       sha256('pgtap-22-login-rs'), 3600, NULL)),
	true, 'login_start: email_verified true for an address a reset verified');
RESET ROLE;
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000220b', '00000000-0000-4000-8000-0000000022e7', 'member');
SET LOCAL ROLE homebot_app;
SELECT is((SELECT email_verified FROM homebot.login_start('00000000-0000-4000-8000-0000000022e7', NULL, NULL, NULL, NULL,
	                                                       sha256('pgtap-22-login-tk'), 3600, NULL)),
	false, 'login_start: email_verified false for an unverified address');
SELECT is((SELECT email_verified FROM homebot.refresh_rotate(sha256('pgtap-22-login-tk'), sha256('pgtap-22-login-tk2'), 3600,
	                                                          NULL, NULL, NULL)),
	false, 'refresh_rotate: email_verified false for an unverified address');
RESET ROLE;

-- password_changed: acts only for the hash the user has now.
UPDATE homebot.users SET password_hash = '$2b$04$pgtap22pc' WHERE id = '00000000-0000-4000-8000-0000000022e7';
SELECT homebot.email_token_issue('00000000-0000-4000-8000-0000000022e7', 'email_change', 'pgtap-22-elsewhere@example.test',
                                 sha256('pgtap-22-pc-change'), 3600);
SET LOCAL ROLE homebot_app;
SELECT is(homebot.password_changed('00000000-0000-4000-8000-0000000022e7', '$2b$04$not-its-hash', NULL), false,
	'password_changed: a hash that is not the user''s does nothing');
RESET ROLE;
SELECT isnt_empty($$SELECT FROM homebot.email_tokens WHERE token_hash = sha256('pgtap-22-pc-change') AND used_at IS NULL$$,
	'password_changed: … and leaves the links alone');
SET LOCAL ROLE homebot_app;
SELECT is(homebot.password_changed('00000000-0000-4000-8000-0000000022e7', '$2b$04$pgtap22pc', NULL), true,
	'password_changed: the user''s own new hash acts');
RESET ROLE;
SELECT is_empty($$SELECT FROM homebot.email_tokens WHERE token_hash = sha256('pgtap-22-pc-change') AND used_at IS NULL$$,
	'password_changed: a pending email change asked for before the change is void');

-- email_purge (the retention job): dead tokens a day after, mail counts
-- after their hour; live ones stay.
INSERT INTO homebot.email_tokens (user_id, kind, email, token_hash, created_at, expires_at, used_at) VALUES
	('00000000-0000-4000-8000-0000000022e7', 'verify', 'x@example.test', sha256('pgtap-22-purge-used'),
	 now() - interval '3 days', now() + interval '1 day', now() - interval '2 days'),
	('00000000-0000-4000-8000-0000000022e7', 'verify', 'x@example.test', sha256('pgtap-22-purge-expired'),
	 now() - interval '3 days', now() - interval '2 days', NULL),
	('00000000-0000-4000-8000-0000000022e7', 'verify', 'x@example.test', sha256('pgtap-22-purge-fresh-used'),
	 now() - interval '1 hour', now() + interval '1 day', now() - interval '1 hour'),
	('00000000-0000-4000-8000-0000000022e7', 'reset', 'x@example.test', sha256('pgtap-22-purge-live'),
	 now(), now() + interval '1 hour', NULL);
INSERT INTO homebot.mail_sends (email, kind, sent_at) VALUES
	('pgtap-22-purge@example.test', 'verify', now() - interval '2 hours'),
	('pgtap-22-purge@example.test', 'verify', now() - interval '10 minutes');
SET LOCAL ROLE homebot_app;
SELECT throws_ok('SELECT homebot.email_purge()', '42501', 'permission denied for function email_purge',
	'homebot_app cannot call email_purge');
RESET ROLE;
SET LOCAL ROLE homebot_worker;
SELECT cmp_ok(homebot.email_purge(), '>=', 3, 'email_purge: homebot_worker runs it; it deletes at least the 3 dead rows');
RESET ROLE;
SELECT is_empty($$SELECT FROM homebot.email_tokens WHERE token_hash IN
	(sha256('pgtap-22-purge-used'), sha256('pgtap-22-purge-expired'))$$,
	'email_purge: tokens used or expired more than a day ago are gone');
SELECT results_eq($$SELECT count(*)::int FROM homebot.email_tokens WHERE token_hash IN
	(sha256('pgtap-22-purge-fresh-used'), sha256('pgtap-22-purge-live'))$$, 'VALUES (2)',
	'email_purge: a live token and one used within the day stay');
SELECT results_eq($$SELECT count(*)::int FROM homebot.mail_sends WHERE email = 'pgtap-22-purge@example.test'$$,
	'VALUES (1)', 'email_purge: only the mail count of the last hour stays');

SELECT * FROM finish();
ROLLBACK;
