-- The auth functions work when their owner, which also owns the tables, is
-- an ordinary role: FORCE ROW LEVEL SECURITY then binds the owner too, and
-- only the definer_access policies let the functions see and write rows
-- outside the caller's tenant context. The other tests run with everything
-- owned by the superuser, which skips RLS and would hide a missing policy.
--
-- Inside this transaction (rolled back at the end) every table and function
-- of schema homebot is handed to pgtap_09_owner, a role that is neither
-- superuser nor BYPASSRLS, and definer_access is pointed at it: the state a
-- production database is in when the migrations ran as that role.
BEGIN;
SELECT plan(24);

CREATE ROLE pgtap_09_owner NOLOGIN NOSUPERUSER NOBYPASSRLS;
GRANT USAGE ON SCHEMA homebot TO pgtap_09_owner;
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT c.oid::regclass AS t FROM pg_class c
	          WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind IN ('r', 'p') LOOP
		EXECUTE format('ALTER TABLE %s OWNER TO pgtap_09_owner', r.t);
	END LOOP;
	FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p
	          WHERE p.pronamespace = 'homebot'::regnamespace LOOP
		EXECUTE format('ALTER FUNCTION %s OWNER TO pgtap_09_owner', r.f);
	END LOOP;
	FOR r IN SELECT p.polrelid::regclass AS t FROM pg_policy p WHERE p.polname = 'definer_access' LOOP
		EXECUTE format('ALTER POLICY definer_access ON %s TO pgtap_09_owner', r.t);
	END LOOP;
END
$$;

SELECT is(
	(SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'pgtap_09_owner'), false,
	'precondition: the owner is neither superuser nor BYPASSRLS');
SELECT is(
	(SELECT coalesce(array_agg(DISTINCT o::regrole::text), '{}')
	   FROM (SELECT relowner AS o FROM pg_class
	          WHERE relnamespace = 'homebot'::regnamespace AND relkind IN ('r', 'p', 'S')
	         UNION ALL
	         SELECT proowner FROM pg_proc WHERE pronamespace = 'homebot'::regnamespace) AS owners),
	ARRAY['pgtap_09_owner'],
	'precondition: it owns every table, sequence and function of schema homebot');
SELECT is(
	(SELECT count(*)::int FROM pg_policy
	  WHERE polname = 'definer_access' AND polroles = ARRAY['pgtap_09_owner'::regrole]::oid[]),
	(SELECT greatest(count(*)::int, 8) FROM pg_policy WHERE polname = 'definer_access'),
	'precondition: every definer_access policy (at least 0002''s eight) names it');

SET LOCAL ROLE homebot_app;

-- The whole flow, without tenant context, as the request path runs it.
CREATE TEMP TABLE reg AS
SELECT * FROM homebot.register('pgtap-09-owner@example.test', 'hash-09', 'Nine', 'Pgtap Nine Org',
                               '192.0.2.90', 'pgtap-agent', 'pgtap-09-reg', sha256('pgtap-09-r1'), 604800);
SELECT is((SELECT status FROM reg), 'ok',
	'register works under a non-superuser owner (users, organizations, memberships, sessions, tokens, audit)');
CREATE TEMP TABLE lookup AS
SELECT * FROM homebot.login_lookup('pgtap-09-owner@example.test', 1, 900, '192.0.2.90');
SELECT results_eq(
	$$SELECT user_id, password_hash, disabled, retry_after, attempt_id IS NOT NULL FROM lookup$$,
	$$SELECT user_id, 'hash-09'::text, false, 0, true FROM reg$$,
	'login_lookup finds the user across every tenant and records the attempt');
SELECT lives_ok(
	$$SELECT homebot.login_failed('pgtap-09-owner@example.test', (SELECT user_id FROM reg), '192.0.2.90',
	                              'pgtap-agent', 'pgtap-09-failed', 1, 900, (SELECT attempt_id FROM lookup))$$,
	'login_failed reads the attempt and writes platform audit events (auth.login.failed, auth.locked)');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-09-owner@example.test', 1, 900, '192.0.2.90')), 900,
	'login_lookup counts the failure: locked at a limit of 1');
CREATE TEMP TABLE login AS
SELECT * FROM homebot.login_start((SELECT user_id FROM reg), NULL, '192.0.2.91', 'pgtap-agent', 'pgtap-09-login',
                                  sha256('pgtap-09-l1'), 604800, 'hash-09-rehashed');
SELECT results_eq(
	$$SELECT status, organization_id, role FROM login$$,
	$$SELECT 'ok'::text, organization_id, 'owner'::text FROM reg$$,
	'login_start picks the organization used last and opens a session');
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-09-owner@example.test', 1, 900, '192.0.2.91')), 0,
	'the successful login unlocked the email');
SELECT results_eq(
	$$SELECT status, session_id FROM homebot.refresh_rotate(sha256('pgtap-09-r1'), sha256('pgtap-09-r2'), 3600,
	                                                        NULL, NULL, 'pgtap-09-refresh')$$,
	$$SELECT 'ok'::text, session_id FROM reg$$,
	'refresh_rotate rotates');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-09-r1'), sha256('pgtap-09-r3'), 3600,
	                                           NULL, NULL, 'pgtap-09-reuse')),
	'reused', 'refresh_rotate detects the reuse');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-09-r2'), sha256('pgtap-09-r4'), 3600, NULL, NULL, NULL)),
	'invalid', 'and the revoked session''s newest token is invalid');
SELECT is(homebot.auth_rate_hit('auth', 'pgtap-09-ip', 10), 0, 'auth_rate_hit counts');

RESET ROLE;
INSERT INTO homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by)
SELECT organization_id, 'pgtap09a', sha256('pgtap-09-key'), 'key 9', '{org:read,org:delete,api_keys:read}', user_id
  FROM reg;
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT key_hash, permissions, role FROM homebot.authenticate_api_key('pgtap09a', sha256('pgtap-09-key'))$$,
	$$VALUES (sha256('pgtap-09-key'), '{api_keys:read,org:delete,org:read}'::text[], 'owner'::text)$$,
	'authenticate_api_key reads the key, membership, role and extra permissions');

-- Everything landed where it should (as the superuser, which sees it all).
RESET ROLE;
SELECT results_eq(
	$$SELECT action FROM homebot.audit_log WHERE request_id LIKE 'pgtap-09-%' ORDER BY occurred_at, action$$,
	$$VALUES ('auth.register'::text), ('organization.created'::text), ('auth.login.failed'::text),
	         ('auth.locked'::text), ('auth.login.succeeded'::text), ('auth.refresh.reused'::text)$$,
	'every audit event of the flow was written');
SELECT is((SELECT password_hash FROM homebot.users WHERE id = (SELECT user_id FROM reg)), 'hash-09-rehashed',
	'login_start updated the password hash');
SELECT isnt((SELECT last_used_at FROM homebot.api_keys WHERE prefix = 'pgtap09a'), NULL,
	'authenticate_api_key updated last_used_at');

-- homebot_app is still held to its tenant.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000090f', true);
SELECT is_empty(
	$$SELECT * FROM homebot.sessions WHERE user_id = (SELECT user_id FROM reg)$$,
	'homebot_app in another organization sees none of the new sessions');
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE request_id LIKE 'pgtap-09-%'$$,
	'homebot_app in another organization sees none of the new audit events');
SELECT is_empty(
	$$SELECT * FROM homebot.users WHERE id = (SELECT user_id FROM reg)$$,
	'homebot_app in another organization does not see the new user');
SELECT set_config('app.org_id', (SELECT organization_id::text FROM reg), true);
SELECT is(
	(SELECT count(*)::int FROM homebot.sessions WHERE user_id = (SELECT user_id FROM reg)), 2,
	'homebot_app in the new organization sees its two sessions');

-- Without definer_access the owner is bound like anyone else: the functions
-- then see nothing and may write nothing outside the caller's tenant.
RESET ROLE;
DROP POLICY definer_access ON homebot.users;
DROP POLICY definer_access ON homebot.audit_log;
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT is((SELECT user_id FROM homebot.login_lookup('pgtap-09-owner@example.test', 5, 900, NULL)), NULL,
	'control: without definer_access on users, login_lookup (run as the owner) no longer finds the user');
SELECT throws_ok(
	$$SELECT homebot.login_failed('pgtap-09-owner@example.test', NULL, NULL, NULL, NULL, 5, 900, NULL)$$,
	'42501', 'new row violates row-level security policy for table "audit_log"',
	'control: without definer_access on audit_log, the owner cannot write a platform event');
RESET ROLE;
SELECT is((SELECT id FROM homebot.users WHERE lower(email) = 'pgtap-09-owner@example.test'),
	(SELECT user_id FROM reg),
	'control: the user is there all the same (read by the superuser): it is the owner that is bound');

SELECT * FROM finish();
ROLLBACK;
